//! Every problem of a JSON document's shape at once, found by checking it against the JSON
//! Schema of the type it should be read as (the same schema `schemas/` publishes, generated
//! from the type by `schemars`).
//!
//! The typed reader ([`crate::json`]) stops at the first field that does not fit. A client
//! filling a statement by hand would then learn of its mistakes one request at a time; so
//! when that reader refuses a document, the document is checked against its schema by an
//! independent validator (`jsonschema`) that reports them all: every missing field, every
//! unknown one, every value of the wrong type or outside its enumeration. The typed reader
//! stays the judge of what is accepted; this only explains a refusal more fully, and the
//! reader's own complaint is always among the problems reported.
//!
//! Messages never repeat the value sent (it may be personal data): `value is not of type
//! "string"`, not the value itself.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use jsonschema::Validator;
use schemars::JsonSchema;
use serde_json::Value;

use crate::error::{Code, Error};
use crate::field::{invalid, join, InvalidField};
use crate::json::{self, JsonError, JsonErrorKind};

/// The validator of `T`'s schema, built once per type.
fn validator<T: JsonSchema + 'static>() -> Option<Arc<Validator>> {
    static CACHE: OnceLock<Mutex<HashMap<TypeId, Arc<Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = cache.get(&TypeId::of::<T>()) {
        return Some(v.clone());
    }
    let schema = schemars::schema_for!(T).to_value();
    match jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
    {
        Ok(v) => {
            let v = Arc::new(v);
            cache.insert(TypeId::of::<T>(), v.clone());
            Some(v)
        }
        Err(e) => {
            // A schema the validator cannot compile is our bug, not the client's: the
            // typed reader's single complaint is then all the client hears.
            tracing::error!(error = %e, "the schema of a request type does not compile");
            None
        }
    }
}

/// The JSON path of a location (`purposes[0].code`), as the typed reader spells it.
fn path<'a>(segments: impl Iterator<Item = LocationSegment<'a>>) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            LocationSegment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            LocationSegment::Property(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&name);
            }
        }
    }
    out
}

/// Every problem of `value`'s shape as a `T`, each at its JSON path (relative to the
/// document). Empty when the schema finds nothing (the typed reader can be stricter than the
/// schema: a number beyond 2^53−1, say).
pub fn problems<T: JsonSchema + 'static>(value: &Value) -> Vec<InvalidField> {
    let Some(validator) = validator::<T>() else {
        return Vec::new();
    };
    let mut out: Vec<InvalidField> = Vec::new();
    for error in validator.iter_errors(value) {
        let at = path(error.instance_path().segments());
        match error.kind() {
            ValidationErrorKind::Required { property } => {
                let name = property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_owned);
                out.push(invalid(join(&at, &name), "is missing"));
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    out.push(invalid(
                        join(&at, name),
                        "is not a field of this document (unknown field)",
                    ));
                }
            }
            _ => out.push(invalid(at, error.masked().to_string())),
        }
    }
    out.dedup();
    out
}

/// The problems to report for a document the typed reader refused with `first` (its path
/// relative to the document, and its reason): the schema's problems, the reader's own
/// complaint standing for the schema's at the same place (or first, if the schema found
/// nothing there).
pub fn explain<T: JsonSchema + 'static>(value: &Value, first: InvalidField) -> Vec<InvalidField> {
    let mut all = problems::<T>(value);
    let at = all.iter().position(|p| p.field == first.field).unwrap_or(0);
    all.retain(|p| p.field != first.field);
    all.insert(at.min(all.len()), first);
    all
}

/// Which document a refused JSON text was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// A request body (`POST /v1/participants` ...): its fields' paths stand alone.
    Body,
    /// A signed statement's payload: its fields' paths start with `payload`.
    Payload,
}

/// The answer to a JSON text that the strict reader refused with `e` when reading it as a
/// `T`. Not JSON: 400 `malformed_json` for a body, 422 `invalid_payload` for a payload.
/// Not an object: 422 (`invalid_field` for a body, `invalid_payload` for a payload). Not
/// strict JSON (a repeated key, a number beyond 2^53−1, too deep): 422 `invalid_field` at its
/// path. Fields that do not fit `T`: 422 `invalid_field` listing every one ([`explain`]).
pub fn refusal<T: JsonSchema + 'static>(bytes: &[u8], e: JsonError, doc: Document) -> Error {
    let root = match doc {
        Document::Body => "",
        Document::Payload => "payload",
    };
    let not_an_object = || match doc {
        Document::Body => Error::invalid_field("the body must be a JSON object"),
        Document::Payload => Error::new(Code::InvalidPayload, "the payload must be a JSON object"),
    };
    let at_root = |p: InvalidField| invalid(join(root, &p.field), p.reason);
    match e.kind {
        JsonErrorKind::Syntax => match doc {
            Document::Body => Error::new(Code::MalformedJson, format!("body is not JSON: {e}")),
            Document::Payload => Error::new(
                Code::InvalidPayload,
                format!("the payload is not JSON: {e}"),
            ),
        },
        // Rare, so read again: structs also read from arrays, whose errors have a path.
        JsonErrorKind::Shape => match json::value(bytes) {
            Ok(v) if !v.is_object() => not_an_object(),
            Ok(v) => {
                let first = invalid(e.path, e.reason);
                Error::invalid_fields(explain::<T>(&v, first).into_iter().map(at_root))
            }
            Err(_) => Error::invalid_fields([at_root(invalid(e.path, e.reason))]),
        },
        _ => Error::invalid_fields([at_root(invalid(e.path, e.reason))]),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        code: String,
        weight: u32,
    }

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        title: String,
        id: uuid::Uuid,
        items: Vec<Item>,
        note: Option<String>,
    }

    #[test]
    fn every_problem_is_reported_at_its_path_without_the_value() {
        let doc = json!({
            "id": "not-a-uuid-secret",
            "items": [{"code": "a", "weight": 1}, {"code": 7, "weight": 2, "colour": "red"}],
            "extra": true
        });
        let found = problems::<Doc>(&doc);
        let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
        for expected in ["title", "id", "items[1].code", "items[1].colour", "extra"] {
            assert!(fields.contains(&expected), "{expected} in {found:?}");
        }
        assert_eq!(found.len(), 5, "{found:?}");
        for p in &found {
            assert!(!p.reason.contains("secret"), "{p}");
            assert!(!p.reason.contains("red"), "{p}");
        }
        let title = found.iter().find(|p| p.field == "title").unwrap();
        assert_eq!(title.reason, "is missing");
    }

    #[test]
    fn a_document_that_fits_has_no_problem_and_the_readers_complaint_is_kept() {
        let doc = json!({"title": "t", "id": "6f1c1f38-3c4e-4b0e-9a56-1f2d3c4b5a69", "items": []});
        assert!(problems::<Doc>(&doc).is_empty());
        let kept = explain::<Doc>(&doc, invalid("items", "beyond 2^53-1"));
        assert_eq!(kept, vec![invalid("items", "beyond 2^53-1")]);
        // The reader's words stand for the schema's at the same place.
        let doc = json!({"title": 1, "id": "6f1c1f38-3c4e-4b0e-9a56-1f2d3c4b5a69", "items": 2});
        let kept = explain::<Doc>(&doc, invalid("items", "invalid type: integer"));
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert_eq!(kept[0].field, "title");
        assert_eq!(kept[1], invalid("items", "invalid type: integer"));
    }
}
