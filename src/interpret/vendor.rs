//! Vendor analysis (Vapi `analysis.structuredData`, Retell `call_analysis`) mapped onto brief
//! fields by configuration. A vendor field that is present and maps to a value wins over the
//! rules for scalar fields (urgency, disposition, stated need, promise) and adds to set fields
//! (intents, objections, facts). Evidence names the vendor field, with no turn.

use std::collections::BTreeMap;
use std::path::Path;

use handoffd_contract::brief::{Brief, Disposition, FactValue, Finding, UrgencyLevel};
use handoffd_contract::conversation::VendorAnalysis;
use serde::Deserialize;
use serde_json::Value;

/// Which brief field a vendor field fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BriefField {
    Intents,
    Objections,
    Urgency,
    Disposition,
    StatedNeed,
    PromisedNextStep,
    DoNotAsk,
}

/// One vendor's field mapping.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VendorMapping {
    /// The vendor's field name -> how it maps.
    pub fields: BTreeMap<String, FieldMapping>,
}

#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    /// The brief field this vendor field fills.
    pub to: BriefField,
    /// The vendor's values -> ours (`"true"` for booleans). Empty: the value is used as it is.
    /// A value missing from a non-empty map is ignored.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// For `do_not_ask`: which fact the field's value is.
    #[serde(default)]
    pub fact: Option<String>,
}

/// All mappings by vendor name.
#[derive(Debug, Default)]
pub struct VendorMappings {
    vendors: BTreeMap<String, VendorMapping>,
}

impl VendorMappings {
    /// Defaults from `vendor_analysis.yaml` in the vocabulary folder, then `overrides` (vendor
    /// by vendor, field by field).
    pub fn load(dir: &Path, overrides: &BTreeMap<String, VendorMapping>) -> anyhow::Result<Self> {
        let path = dir.join("vendor_analysis.yaml");
        let mut vendors: BTreeMap<String, VendorMapping> = match std::fs::read_to_string(&path) {
            Ok(text) => serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(anyhow::anyhow!("cannot read `{}`: {e}", path.display())),
        };
        for (vendor, mapping) in overrides {
            let entry = vendors.entry(vendor.clone()).or_default();
            entry.fields.extend(mapping.fields.clone());
        }
        for (vendor, mapping) in &vendors {
            for (field, map) in &mapping.fields {
                if map.to == BriefField::DoNotAsk && map.fact.is_none() {
                    anyhow::bail!("vendor_analysis.{vendor}.fields.{field}: `do_not_ask` needs `fact`");
                }
                for (theirs, ours) in &map.values {
                    let valid = match map.to {
                        BriefField::Urgency => parse_urgency(ours).is_some(),
                        BriefField::Disposition => parse_disposition(ours).is_some(),
                        _ => true,
                    };
                    if !valid {
                        anyhow::bail!(
                            "vendor_analysis.{vendor}.fields.{field}.values.{theirs}: `{ours}` is not a valid value"
                        );
                    }
                }
            }
        }
        Ok(VendorMappings { vendors })
    }

    pub fn apply(&self, analysis: &VendorAnalysis, brief: &mut Brief) {
        let Some(mapping) = self.vendors.get(&analysis.vendor) else {
            brief.notes.push(format!("vendor analysis from `{}` has no mapping and was ignored", analysis.vendor));
            return;
        };
        for (field, map) in &mapping.fields {
            let Some(value) = analysis.fields.get(field) else { continue };
            let evidence = format!("{}.{field}", analysis.vendor);
            for raw in scalars(value) {
                let mapped = if map.values.is_empty() { Some(raw.clone()) } else { map.values.get(&raw).cloned() };
                let Some(ours) = mapped.filter(|v| !v.is_empty()) else { continue };
                let finding = Finding { code: ours.clone(), evidence: format!("{evidence} = {raw}"), turn: None };
                match map.to {
                    BriefField::Intents => add(&mut brief.intents, finding),
                    BriefField::Objections => add(&mut brief.objections, finding),
                    BriefField::Urgency => {
                        if let Some(level) = parse_urgency(&ours) {
                            brief.urgency.level = level;
                            brief.urgency.reasons.insert(0, Finding { code: "vendor_analysis".into(), ..finding });
                        }
                    }
                    BriefField::Disposition => {
                        if let Some(disposition) = parse_disposition(&ours) {
                            brief.disposition = disposition;
                            brief.notes.push(format!("disposition {} from {evidence}", disposition.as_str()));
                        }
                    }
                    BriefField::StatedNeed => brief.stated_need = Some(ours),
                    BriefField::PromisedNextStep => brief.promised_next_step = Some(ours),
                    BriefField::DoNotAsk => {
                        let fact = map.fact.clone().unwrap_or_default();
                        brief.do_not_ask.retain(|f| f.fact != fact);
                        brief.do_not_ask.push(FactValue { fact, value: ours, turn: None });
                    }
                }
            }
        }
    }
}

fn add(list: &mut Vec<Finding>, finding: Finding) {
    if !list.iter().any(|f| f.code == finding.code) {
        list.push(finding);
    }
}

/// A JSON value as the strings a value map is keyed by (arrays give one per element; null,
/// false and empty strings give none).
fn scalars(value: &Value) -> Vec<String> {
    match value {
        Value::Null | Value::Bool(false) => vec![],
        Value::Bool(true) => vec!["true".into()],
        Value::Number(n) => vec![n.to_string()],
        Value::String(s) if s.trim().is_empty() => vec![],
        Value::String(s) => vec![s.trim().to_owned()],
        Value::Array(items) => items.iter().flat_map(scalars).collect(),
        Value::Object(_) => vec![],
    }
}

fn parse_urgency(text: &str) -> Option<UrgencyLevel> {
    match text {
        "high" => Some(UrgencyLevel::High),
        "medium" => Some(UrgencyLevel::Medium),
        "low" => Some(UrgencyLevel::Low),
        _ => None,
    }
}

fn parse_disposition(text: &str) -> Option<Disposition> {
    match text {
        "callback" => Some(Disposition::Callback),
        "escalation" => Some(Disposition::Escalation),
        "nurture" => Some(Disposition::Nurture),
        "closed_lost" => Some(Disposition::ClosedLost),
        "booked" => Some(Disposition::Booked),
        _ => None,
    }
}
