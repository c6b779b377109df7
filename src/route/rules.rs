//! Routing rules: the first rule whose `when` matches a brief picks the pool and the strategy.

use handoffd_contract::brief::Brief;

use crate::config::schema::{RuleConfig, RuleWhen};

/// What a rule can look at besides the brief: facts of the conversation the brief does not carry.
#[derive(Clone, Debug, Default)]
pub struct RouteFacts {
    /// The conversation's channel (`whatsapp`, `voice`, ...).
    pub channel: Option<String>,
    /// The conversation's language, when known (vocabulary folder code).
    pub language: Option<String>,
    /// The CRM contact's current owner id, for `sticky`.
    pub contact_owner: Option<String>,
}

/// Whether every key given in `when` matches (each a list: any of its values). Text compares
/// case-insensitively; an intent matches when the brief has any of the listed intents.
pub fn matches(when: &RuleWhen, brief: &Brief, facts: &RouteFacts) -> bool {
    let any = |wanted: &Option<Vec<String>>, have: &[&str]| match wanted {
        None => true,
        Some(list) => list.iter().any(|w| have.iter().any(|h| h.eq_ignore_ascii_case(w))),
    };
    let intents: Vec<&str> = brief.intents.iter().map(|i| i.code.as_str()).collect();
    any(&when.intent, &intents)
        && any(&when.urgency, &[brief.urgency.level.as_str()])
        && any(&when.disposition, &[brief.disposition.as_str()])
        && any(&when.channel, facts.channel.as_deref().as_slice())
        && any(&when.source, brief.source.as_deref().as_slice())
        && match (&when.language, facts.language.as_deref()) {
            (None, _) => true,
            (Some(wanted), Some(language)) => {
                wanted.iter().any(|w| crate::interpret::language::same_language(w, language))
            }
            (Some(_), None) => false,
        }
}

/// The first rule that matches, with its index.
pub fn first_match<'a>(rules: &'a [RuleConfig], brief: &Brief, facts: &RouteFacts) -> Option<(usize, &'a RuleConfig)> {
    rules.iter().enumerate().find(|(_, rule)| matches(&rule.when, brief, facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(json: serde_json::Value) -> Brief {
        let mut base = serde_json::json!({
            "customer": {"phones": [], "emails": []}, "channel_history": [], "intents": [],
            "urgency": {"level": "medium", "reasons": []}, "disposition": "callback", "objections": [],
            "do_not_ask": [], "recommended_action": "", "reasked_facts": [], "actionable": true
        });
        base.as_object_mut().unwrap().extend(json.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn rules(yaml: &str) -> Vec<RuleConfig> {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn first_match_wins_and_all_keys_must_match() {
        let rules = rules(
            "- {name: hot-visits, when: {intent: [site_visit], urgency: [high]}, pool: closers}\n\
             - {name: voice, when: {channel: [voice]}, pool: phones, strategy: sticky}\n\
             - {name: rest, pool: everyone}\n",
        );
        let visit = serde_json::json!({"code": "site_visit", "evidence": "visit", "turn": 0});
        let hot_visit = brief(serde_json::json!({"intents": [visit], "urgency": {"level": "high", "reasons": []}}));
        let warm_visit = brief(serde_json::json!({"intents": [visit]}));
        let voice = RouteFacts { channel: Some("voice".into()), ..Default::default() };
        assert_eq!(first_match(&rules, &hot_visit, &voice).unwrap().1.name, "hot-visits");
        assert_eq!(first_match(&rules, &warm_visit, &voice).unwrap().1.name, "voice", "urgency must match too");
        assert_eq!(first_match(&rules, &warm_visit, &RouteFacts::default()).unwrap().1.name, "rest");
    }

    #[test]
    fn source_and_language_lists() {
        let rules = rules("- {name: ads-hi, when: {source: [meta_lead_ad], language: [hi]}, pool: hindi}\n");
        let from_ads = brief(serde_json::json!({"source": "meta_lead_ad"}));
        let hindi = RouteFacts { language: Some("hi".into()), ..Default::default() };
        assert!(first_match(&rules, &from_ads, &hindi).is_some());
        assert!(first_match(&rules, &from_ads, &RouteFacts::default()).is_none(), "an unknown language never matches");
        assert!(first_match(&rules, &brief(serde_json::json!({})), &hindi).is_none());
    }
}
