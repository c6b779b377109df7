//! Requests checked against a vendor's own OpenAPI 3 description (feature `spec`).
//!
//! The description is read from disk at test time (the vendors' files are never copied into this repository):
//! [`vendor_dir`] finds them. For each recorded request, [`ApiSpec::check`] finds the operation by method and
//! path template, then checks the path parameters, every query parameter (unknown ones are errors: a vendor's
//! description lists them all), the header parameters it describes, and the JSON body against the operation's
//! request schema with a JSON Schema validator. `$ref`s are inlined first, across files too (Zoho's files point
//! at each other by URL), and OpenAPI's `nullable` becomes a `null` type.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::recorded::RecordedRequest;

/// Where the vendors' specs are: `$HANDOFFD_VENDOR_DIR`, else `shared/vendor` beside the repository (how the
/// workplace lays it out), if it exists.
pub fn vendor_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HANDOFFD_VENDOR_DIR") {
        let dir = PathBuf::from(dir);
        return dir.is_dir().then_some(dir);
    }
    // testing/mocks -> the repository -> its parent.
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vendor");
    beside.is_dir().then_some(beside)
}

/// One file of a description, and the URI other files use for it.
#[derive(Debug, Clone)]
pub struct SpecFile {
    pub path: PathBuf,
    pub uri: String,
}

#[derive(Debug)]
struct Operation {
    method: String,
    template: String,
    segments: Vec<Option<String>>,
    /// Parameters (path-level and operation-level, refs inlined) by (location, name).
    parameters: HashMap<(String, String), Value>,
    body_schema: Option<Value>,
    body_required: bool,
}

/// The operations of a vendor's description.
#[derive(Debug)]
pub struct ApiSpec {
    operations: Vec<Operation>,
    /// Removed from a recorded path before matching (the server URL's path, e.g. `/v1`).
    prefix: String,
}

impl ApiSpec {
    /// Loads the files; `prefix` is the path of the description's server URL.
    pub fn load(files: &[SpecFile], prefix: &str) -> Result<Self, String> {
        let mut docs = HashMap::new();
        for file in files {
            let text = std::fs::read_to_string(&file.path).map_err(|e| format!("{}: {e}", file.path.display()))?;
            let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.path.display()))?;
            docs.insert(file.uri.clone(), doc);
        }
        let mut operations = Vec::new();
        for file in files {
            let Some(Value::Object(paths)) = docs[&file.uri].get("paths") else { continue };
            for (template, item) in paths {
                let shared = item.get("parameters").cloned().unwrap_or(json!([]));
                for (method, op) in item.as_object().into_iter().flatten() {
                    if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                        continue;
                    }
                    let mut parameters = HashMap::new();
                    for parameter in shared
                        .as_array()
                        .into_iter()
                        .flatten()
                        .chain(op.get("parameters").and_then(Value::as_array).into_iter().flatten())
                    {
                        let parameter = inline(&docs, &file.uri, parameter, 0);
                        let location = parameter.get("in").and_then(Value::as_str).unwrap_or_default().to_owned();
                        let name = parameter.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
                        let name = if location == "header" { name.to_lowercase() } else { name };
                        parameters.insert((location, name), parameter);
                    }
                    let body = op.get("requestBody").map(|b| inline(&docs, &file.uri, b, 0));
                    let body_schema =
                        body.as_ref().and_then(|b| b.pointer("/content/application~1json/schema")).cloned();
                    let body_required =
                        body.as_ref().and_then(|b| b.get("required")).and_then(Value::as_bool).unwrap_or(false);
                    operations.push(Operation {
                        method: method.to_uppercase(),
                        template: template.clone(),
                        segments: template
                            .trim_matches('/')
                            .split('/')
                            .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                            .collect(),
                        parameters,
                        body_schema,
                        body_required,
                    });
                }
            }
        }
        Ok(Self { operations, prefix: prefix.trim_end_matches('/').to_owned() })
    }

    /// Whether the description has an operation for the request's method and path.
    pub fn covers(&self, request: &RecordedRequest) -> bool {
        !self.operations_for(request).is_empty()
    }

    /// Checks one request; `Ok` names the operation (`POST /crm/v8/{module_api_name}/upsert`). When several
    /// operations fit the path equally well (a vendor describing one endpoint in two files), the request is valid
    /// if it is valid for one of them.
    pub fn check(&self, request: &RecordedRequest) -> Result<String, Vec<String>> {
        let candidates = self.operations_for(request);
        if candidates.is_empty() {
            return Err(vec![format!("no operation `{} {}` in the description", request.method, request.path)]);
        }
        let mut first_problems = None;
        for (operation, path_values) in candidates {
            let problems = check_operation(operation, path_values, request);
            if problems.is_empty() {
                return Ok(format!("{} {}", operation.method, operation.template));
            }
            first_problems.get_or_insert(problems);
        }
        Err(first_problems.unwrap_or_default())
    }

    /// The operations for a request, with the values of their path parameters: those with the most literal
    /// segments (`/x/search` beats `/x/{id}`).
    fn operations_for(&self, request: &RecordedRequest) -> Vec<(&Operation, Vec<(String, String)>)> {
        let path = request.path.strip_prefix(&self.prefix).unwrap_or(&request.path);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let fitting: Vec<&Operation> = self
            .operations
            .iter()
            .filter(|op| op.method == request.method && op.segments.len() == segments.len())
            .filter(|op| op.segments.iter().zip(&segments).all(|(t, s)| t.as_deref().is_none_or(|t| t == *s)))
            .collect();
        let literals = |op: &Operation| op.segments.iter().filter(|s| s.is_some()).count();
        let best = fitting.iter().map(|op| literals(op)).max().unwrap_or(0);
        fitting
            .into_iter()
            .filter(|op| literals(op) == best)
            .map(|op| {
                let names = op.template.trim_matches('/').split('/');
                let values = names
                    .zip(&segments)
                    .filter(|(t, _)| t.starts_with('{'))
                    .map(|(t, s)| (t.trim_matches(|c| c == '{' || c == '}').to_owned(), (*s).to_owned()))
                    .collect();
                (op, values)
            })
            .collect()
    }
}

fn check_operation(
    operation: &Operation,
    path_values: Vec<(String, String)>,
    request: &RecordedRequest,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, value) in path_values {
        match operation.parameters.get(&("path".to_owned(), name.clone())) {
            Some(parameter) => check_value(parameter, &name, &value, &mut problems),
            None => problems.push(format!("path parameter `{name}` is not described")),
        }
    }
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(request.query.as_deref().unwrap_or_default().as_bytes()).into_owned().collect();
    for (name, value) in &query {
        match operation.parameters.get(&("query".to_owned(), name.clone())) {
            Some(parameter) => check_value(parameter, name, value, &mut problems),
            None => problems.push(format!("query parameter `{name}` is not described")),
        }
    }
    for ((location, name), parameter) in &operation.parameters {
        let required = parameter.get("required").and_then(Value::as_bool).unwrap_or(false);
        match location.as_str() {
            "query" if required && !query.iter().any(|(n, _)| n == name) => {
                problems.push(format!("required query parameter `{name}` is missing"))
            }
            "header" => match request.headers.iter().find(|(n, _)| n == name) {
                Some((_, value)) => check_value(parameter, name, value, &mut problems),
                None if required => problems.push(format!("required header `{name}` is missing")),
                None => {}
            },
            _ => {}
        }
    }
    match (&operation.body_schema, request.body.is_empty()) {
        (None, false) => problems.push("a body where the operation takes none".to_owned()),
        (Some(_), true) if operation.body_required => problems.push("the required body is missing".to_owned()),
        (Some(schema), false) => match serde_json::from_slice::<Value>(&request.body) {
            Ok(body) => check_schema(schema, &body, "body", &mut problems),
            Err(e) => problems.push(format!("the body is not JSON: {e}")),
        },
        _ => {}
    }
    problems
}

/// A parameter's text value, typed by its schema, checked against it.
fn check_value(parameter: &Value, name: &str, text: &str, problems: &mut Vec<String>) {
    let Some(schema) = parameter.get("schema") else { return };
    let kind = schema.get("type").and_then(Value::as_str).unwrap_or("string");
    let value = match kind {
        "integer" => text.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(text)),
        "number" => {
            text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or_else(|| json!(text), Value::Number)
        }
        "boolean" => match text {
            "true" => json!(true),
            "false" => json!(false),
            _ => json!(text),
        },
        "array" => Value::Array(text.split(',').map(|v| json!(v)).collect()),
        _ => json!(text),
    };
    check_schema(schema, &value, &format!("parameter `{name}`"), problems);
}

fn check_schema(schema: &Value, instance: &Value, what: &str, problems: &mut Vec<String>) {
    let validator =
        match jsonschema::options().with_draft(jsonschema::Draft::Draft4).should_validate_formats(true).build(schema) {
            Ok(validator) => validator,
            Err(e) => {
                problems.push(format!("{what}: the vendor's schema does not compile: {e}"));
                return;
            }
        };
    for error in validator.iter_errors(instance) {
        problems.push(format!("{what}: {error} (at `{}`)", error.instance_path()));
    }
}

/// The value with every `$ref` replaced by what it points at (in `base`'s document or another one by URI), and
/// `nullable` turned into a `null` type. A reference already being inlined (a recursive schema) becomes `{}`.
fn inline(docs: &HashMap<String, Value>, base: &str, value: &Value, depth: usize) -> Value {
    if depth > 40 {
        return json!({});
    }
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let (uri, pointer) = reference.split_once('#').unwrap_or((reference.as_str(), ""));
                let uri = if uri.is_empty() { base } else { uri };
                return match docs.get(uri).and_then(|doc| doc.pointer(pointer)) {
                    Some(target) => inline(docs, uri, target, depth + 1),
                    // A file we were not given: accept anything rather than guess.
                    None => json!({}),
                };
            }
            let mut out = Map::new();
            for (key, item) in map {
                // `example`s are documentation, and some vendors' do not match their own schemas.
                if key == "example" || key == "examples" {
                    continue;
                }
                out.insert(key.clone(), inline(docs, base, item, depth + 1));
            }
            if out.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(kind)) = out.get("type").cloned()
            {
                out.insert("type".into(), json!([kind, "null"]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| inline(docs, base, item, depth + 1)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ApiSpec {
        let doc = json!({
            "paths": {
                "/things/{id}": {"put": {
                    "parameters": [{"in": "path", "name": "id", "required": true, "schema": {"type": "integer"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}
                }},
                "/things/search": {"get": {"parameters": [
                    {"in": "query", "name": "term", "required": true, "schema": {"type": "string"}},
                    {"in": "query", "name": "exact", "schema": {"type": "boolean"}}
                ]}}
            },
            "components": {"schemas": {"Thing": {"type": "object", "properties": {
                "due_date": {"type": "string", "format": "date"}, "owner": {"type": "integer", "nullable": true}
            }}}}
        });
        let dir = std::env::temp_dir().join(format!("handoffd-spec-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("api.json");
        std::fs::write(&path, doc.to_string()).unwrap();
        ApiSpec::load(&[SpecFile { path, uri: "https://example.com/api.json".into() }], "/v1").unwrap()
    }

    fn request(method: &str, path: &str, query: Option<&str>, body: Value) -> RecordedRequest {
        RecordedRequest {
            method: method.into(),
            path: path.into(),
            query: query.map(str::to_owned),
            headers: Vec::new(),
            body: if body.is_null() { Vec::new() } else { body.to_string().into_bytes() },
        }
    }

    #[test]
    fn good_requests_pass_and_bad_ones_say_why() {
        let spec = spec();
        let good = request("PUT", "/v1/things/7", None, json!({"due_date": "2026-03-07", "owner": null}));
        assert_eq!(spec.check(&good), Ok("PUT /things/{id}".to_owned()));
        let bad_body = request("PUT", "/v1/things/7", None, json!({"due_date": "07/03/2026", "owner": "x"}));
        assert_eq!(spec.check(&bad_body).unwrap_err().len(), 2);
        assert!(spec.check(&request("PUT", "/v1/things/seven", None, json!({}))).is_err());
        assert!(spec.check(&request("PUT", "/v1/things/7", None, Value::Null)).is_err(), "the body is required");
        assert_eq!(
            spec.check(&request("GET", "/v1/things/search", Some("term=a&exact=true"), Value::Null)),
            Ok("GET /things/search".into())
        );
        let problems =
            spec.check(&request("GET", "/v1/things/search", Some("exact=yes&colour=red"), Value::Null)).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(!spec.covers(&request("GET", "/api/v2/things", None, Value::Null)));
    }
}
