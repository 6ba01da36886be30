//! Statement payloads read from files: the templates of `examples/payloads/`, or any payload
//! a participant writes. The CLI changes them only where told (`--set FIELD=VALUE`, for the
//! ids that exist only at run time) and fills `issued_at` and `nonce` when they are absent;
//! the server judges everything else, and lists every problem at once.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use rand::RngCore;
use serde_json::{Map, Value};

use super::client::Settings;
use crate::statement::dsse::Envelope;

/// The payload file of a statement, and the changes to make to it.
#[derive(Debug, Clone, Args)]
pub struct PayloadArgs {
    /// The payload: a JSON object, for example a template of `examples/payloads/`.
    /// `issued_at` (now) and `nonce` (16 random bytes, hex) are filled in when it has none.
    #[arg(value_name = "PAYLOAD.json")]
    pub payload: PathBuf,
    /// Sets a field before signing (repeatable). FIELD is a field name, or names joined by
    /// dots for a field inside an object (`purpose.code`). VALUE takes the type of the field
    /// it replaces: a text field takes the text as it is, a list a comma-separated list of
    /// texts (`--set recipients=ID1,ID2`); any other field, and a field the payload lacks,
    /// takes JSON (`--set special_category=false`, `--set 'validity={"duration":"P1Y"}'`),
    /// or the text when VALUE is not JSON. `null` removes the field.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
}

/// Reads the payload file and applies the `--set` changes.
pub fn load(args: &PayloadArgs) -> anyhow::Result<Map<String, Value>> {
    let mut payload = read_object(&args.payload)?;
    for assignment in &args.set {
        set(&mut payload, assignment).map_err(|e| anyhow::anyhow!("--set {assignment}: {e}"))?;
    }
    Ok(payload)
}

/// A JSON object from a file, read strictly (a key twice is refused, as the server does).
pub fn read_object(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    match crate::json::value(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => bail!("{}: a payload is a JSON object", path.display()),
        Err(e) => bail!("{}: not JSON: {e}", path.display()),
    }
}

/// Applies one `FIELD=VALUE` (see [`PayloadArgs::set`]).
pub fn set(payload: &mut Map<String, Value>, assignment: &str) -> Result<(), String> {
    let (path, text) = assignment.split_once('=').ok_or("expected FIELD=VALUE")?;
    let names: Vec<&str> = path.split('.').collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(format!("{path:?} is not a field name"));
    }
    let (last, parents) = names.split_last().ok_or("no field")?;
    let mut object = payload;
    for name in parents {
        let slot = object
            .entry((*name).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        object = match slot {
            Value::Object(map) => map,
            _ => return Err(format!("{name} is not an object")),
        };
    }
    let json = serde_json::from_str::<Value>(text).ok();
    let value = match (object.get(*last), json) {
        (_, Some(Value::Null)) => {
            object.remove(*last);
            return Ok(());
        }
        (Some(Value::String(_)), _) => Value::String(text.to_owned()),
        (Some(Value::Array(_)), Some(list @ Value::Array(_))) => list,
        (Some(Value::Array(_)), _) => Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| Value::String(t.to_owned()))
                .collect(),
        ),
        (_, Some(json)) => json,
        (_, None) => Value::String(text.to_owned()),
    };
    object.insert((*last).to_owned(), value);
    Ok(())
}

/// A new nonce: 16 random bytes, 32 hex characters.
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    crate::field::hex(&bytes)
}

/// Fills `issued_at` (`now`, to the second) and `nonce` where the payload has none.
pub fn fill_fresh(payload: &mut Map<String, Value>, now: DateTime<Utc>, nonce: String) {
    payload
        .entry("issued_at")
        .or_insert_with(|| Value::String(now.to_rfc3339_opts(SecondsFormat::Secs, true)));
    payload
        .entry("nonce")
        .or_insert_with(|| Value::String(nonce));
}

/// The payload's bytes as signed: compact JSON, in the file's order.
pub fn to_bytes(payload: &Map<String, Value>) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(payload)?)
}

/// Fills the payload's freshness ([`fill_fresh`]) and signs it as a DSSE envelope of
/// `payload_type` with the participant's key; the envelope's bytes, ready to post.
pub fn sign(
    settings: &Settings,
    payload_type: &str,
    payload: &mut Map<String, Value>,
) -> anyhow::Result<Vec<u8>> {
    let participant = settings.participant_id()?;
    let key = settings.signing_key()?;
    fill_fresh(payload, Utc::now(), nonce());
    let bytes = to_bytes(payload)?;
    let envelope = Envelope::sign(payload_type, &bytes, &participant.to_string(), &key);
    Ok(envelope.to_bytes()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn set_follows_the_type_of_the_field_it_replaces() {
        let mut p = object(json!({
            "title": "x", "size": 3, "datasets": ["a"], "purpose": {"code": "c"},
            "special_category": true
        }));
        for a in [
            "title=1234",
            "size=12",
            "datasets=0190f1d2-0000-7000-8000-000000000001, 0190f1d2-0000-7000-8000-000000000002",
            "purpose.code=cohort-2027",
            "special_category=false",
            "validity={\"duration\": \"P1Y\"}",
            "consent_ids=[\"a\"]",
            "reason=the patient asked",
        ] {
            set(&mut p, a).unwrap();
        }
        assert_eq!(
            Value::Object(p.clone()),
            json!({
                "title": "1234", "size": 12,
                "datasets": ["0190f1d2-0000-7000-8000-000000000001", "0190f1d2-0000-7000-8000-000000000002"],
                "purpose": {"code": "cohort-2027"}, "special_category": false,
                "validity": {"duration": "P1Y"}, "consent_ids": ["a"],
                "reason": "the patient asked"
            })
        );
        set(&mut p, "datasets=[]").unwrap();
        assert_eq!(p["datasets"], json!([]));
        set(&mut p, "reason=null").unwrap();
        assert!(!p.contains_key("reason"));
        for bad in ["title", "=x", "a..b=1", "title.x=1"] {
            assert!(set(&mut p, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn freshness_is_filled_only_where_absent() {
        let now = DateTime::parse_from_rfc3339("2027-03-01T10:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut p = Map::new();
        fill_fresh(&mut p, now, "n1".repeat(8));
        assert_eq!(p["issued_at"], "2027-03-01T10:00:00Z");
        assert_eq!(p["nonce"], "n1".repeat(8));
        fill_fresh(&mut p, Utc::now(), "other".into());
        assert_eq!(p["issued_at"], "2027-03-01T10:00:00Z");
        assert_eq!(p["nonce"], "n1".repeat(8));
    }
}
