//! The one JSON reader for everything the log accepts and every reader re-reads: signed
//! statements (DSSE envelopes and their payloads), the records and entries the log writes,
//! receipts, and API request bodies. RFC 8259 JSON as `serde_json` reads it, with the
//! I-JSON (RFC 7493) restrictions that make one byte string mean one thing to every reader:
//!
//! - a key appears at most once in an object, at any depth, free-form objects included
//!   (`serde_json` keeps the last of two, JavaScript's `JSON.parse` too, and a typed reader
//!   refuses them: three readings of one signed text);
//! - a number's magnitude is at most 2^53−1 ([`MAX_SAFE_INTEGER`]), whatever its form: beyond
//!   it JavaScript reads another number than Rust;
//! - objects and arrays nest at most [`MAX_DEPTH`] deep;
//! - UTF-8 without a byte-order mark, one value, nothing after it but white space; no lone
//!   UTF-16 surrogate in an escape.
//!
//! The typed readers add the rest (unknown or missing fields, wrong types, fractions or
//! exponents where an integer is expected), and a struct is read from a JSON object only, not
//! from the array of its fields that serde's derived readers also take. The browser verifier (`src/web/assets/verify.js`,
//! `strictJSON`) applies the same rules, so that the log accepts a statement exactly when
//! every verifier reads it the same way.
//!
//! Pure code: bytes in, a typed value or a [`JsonError`] naming the JSON path out.

use std::fmt;

use serde::de::{
    self, Deserialize, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Number, Value};

/// The largest integer every reader holds exactly: 2^53−1 (JavaScript's
/// `Number.MAX_SAFE_INTEGER`, I-JSON's limit).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// How deep objects and arrays may nest (the outermost one counts as 1).
pub const MAX_DEPTH: usize = 64;

/// What is wrong with a JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// Not JSON at all: a syntax error, a byte-order mark, invalid UTF-8, trailing data.
    Syntax,
    /// JSON, but not strict JSON: a repeated key, a number beyond 2^53−1, nesting too deep.
    Strict,
    /// Strict JSON of another shape than the type read: unknown, missing or mistyped fields.
    Shape,
}

/// Why a JSON text was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.at(""))]
pub struct JsonError {
    /// Which rule it breaks.
    pub kind: JsonErrorKind,
    /// The JSON path of the offending value (`metadata.a`, `purposes[0].code`); empty for
    /// the whole document. A repeated key is reported at the object that repeats it.
    pub path: String,
    /// What is wrong there.
    pub reason: String,
}

impl JsonError {
    /// The error as `<root>.<path>: <reason>` (`payload.metadata.a: duplicate key "x"`); an
    /// empty `root` leaves it out.
    pub fn at(&self, root: &str) -> String {
        match (root.is_empty(), self.path.is_empty()) {
            (_, true) if !root.is_empty() => format!("{root}: {}", self.reason),
            (_, true) => self.reason.clone(),
            (true, false) => format!("{}: {}", self.path, self.reason),
            (false, false) if self.path.starts_with('[') => {
                format!("{root}{}: {}", self.path, self.reason)
            }
            (false, false) => format!("{root}.{}: {}", self.path, self.reason),
        }
    }

    fn new(kind: JsonErrorKind, path: &serde_path_to_error::Path, reason: String) -> Self {
        let path = path.to_string();
        Self {
            kind,
            path: if path == "." { String::new() } else { path },
            reason,
        }
    }
}

/// A value the log was about to write that could not be written as JSON. Nothing is written
/// then: an empty entry in an append-only log could never be removed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {what} as JSON: {source}")]
pub struct EncodeError {
    /// What was being written.
    pub what: &'static str,
    /// Why serde_json refused.
    pub source: serde_json::Error,
}

/// Writes `value` (`what` names it in the error) as compact JSON, fields in declaration order.
pub fn to_vec<T: serde::Serialize + ?Sized>(
    what: &'static str,
    value: &T,
) -> Result<Vec<u8>, EncodeError> {
    serde_json::to_vec(value).map_err(|source| EncodeError { what, source })
}

/// Reads `bytes` as strict JSON (see the module documentation) into `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    // The path of an error is tracked only on a second reading, once there is an error: the
    // tracking costs more than the reading.
    let v = value(bytes)?;
    match T::deserialize(Typed(v)) {
        Ok(t) => Ok(t),
        Err(_) => Err(value(bytes)
            .and_then(from_value::<T>)
            .err()
            .unwrap_or_else(|| {
                // Unreachable: the same bytes read twice fail twice.
                JsonError {
                    kind: JsonErrorKind::Shape,
                    path: String::new(),
                    reason: "refused".into(),
                }
            })),
    }
}

/// [`from_slice`] for text.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    from_slice(text.as_bytes())
}

/// Reads `bytes` as strict JSON into a generic value; its objects keep their keys in the
/// order of the text.
pub fn value(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match Root::deserialize(&mut de).and_then(|Root(v)| de.end().map(|()| v)) {
        Ok(v) => Ok(v),
        Err(_) => Err(value_error(bytes)),
    }
}

/// Why [`value`] refuses `bytes`, with the path: the reading again, tracked.
fn value_error(bytes: &[u8]) -> JsonError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let e = match serde_path_to_error::deserialize::<_, Root>(&mut de) {
        Ok(_) => match de.end() {
            Ok(()) => {
                // Unreachable: the same bytes read twice fail twice.
                return JsonError {
                    kind: JsonErrorKind::Syntax,
                    path: String::new(),
                    reason: "refused".into(),
                };
            }
            Err(e) => {
                return JsonError {
                    kind: JsonErrorKind::Syntax,
                    path: String::new(),
                    reason: e.to_string(),
                }
            }
        },
        Err(e) => e,
    };
    let kind = match e.inner().classify() {
        serde_json::error::Category::Data => JsonErrorKind::Strict,
        _ => JsonErrorKind::Syntax,
    };
    JsonError::new(kind, e.path(), e.inner().to_string())
}

/// Reads a value that [`value`] returned into `T`, naming the path of a misfit. (A value
/// built any other way has not been checked for repeated keys: its objects cannot hold them.)
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, JsonError> {
    serde_path_to_error::deserialize(Typed(value))
        .map_err(|e| JsonError::new(JsonErrorKind::Shape, e.path(), e.inner().to_string()))
}

/// The whole document, read under the strict rules.
struct Root(Value);

impl<'de> Deserialize<'de> for Root {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Node { depth: 0 }.deserialize(d).map(Root)
    }
}

/// A value at some depth: the seed and visitor that build a [`Value`] under the strict rules.
#[derive(Clone, Copy)]
struct Node {
    /// How many objects and arrays enclose this value.
    depth: usize,
}

impl Node {
    fn enter<E: de::Error>(self) -> Result<Node, E> {
        if self.depth >= MAX_DEPTH {
            Err(E::custom(format_args!(
                "objects and arrays nest deeper than {MAX_DEPTH} levels"
            )))
        } else {
            Ok(Node {
                depth: self.depth + 1,
            })
        }
    }
}

fn out_of_range<E: de::Error>(n: impl fmt::Display) -> E {
    E::custom(format_args!(
        "number {n} is beyond ±(2^53-1), which not every reader holds exactly"
    ))
}

impl<'de> DeserializeSeed<'de> for Node {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        if n > MAX_SAFE_INTEGER {
            return Err(out_of_range(n));
        }
        Ok(Value::Number(n.into()))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        if n.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(out_of_range(n));
        }
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        // serde_json reads an integer too large for 64 bits as a float: the rule is on the
        // magnitude, whatever the form. (2^53−1 is exact in an f64.)
        if !f.is_finite() || f.abs() > MAX_SAFE_INTEGER as f64 {
            return Err(out_of_range(f));
        }
        // Finite, checked just above: from_f64 refuses only NaN and infinities.
        Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| out_of_range(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.enter::<A::Error>()?;
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(inner)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.enter::<A::Error>()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let v = map.next_value_seed(inner)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// A strict value read into a type as serde_json reads a [`Value`], except that a struct is
/// read from an object only: serde's derived structs also take an array of their fields in
/// order (`["a", 1]` for `{"name": "a", "n": 1}`), which no other reader (JavaScript, the JSON
/// Schemas) takes for that struct.
struct Typed(Value);

impl<'de> de::Deserializer<'de> for Typed {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => n.deserialize_any(visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(a) => visitor.visit_seq(Seq(a.into_iter())),
            Value::Object(o) => visitor.visit_map(Fields {
                iter: o.into_iter(),
                value: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            v => visitor.visit_some(Typed(v)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(_) => Err(de::Error::invalid_type(de::Unexpected::Seq, &visitor)),
            v => Typed(v).deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(de::IntoDeserializer::into_deserializer(s)),
            Value::Object(o) if o.len() == 1 => {
                visitor.visit_enum(de::value::MapAccessDeserializer::new(Fields {
                    iter: o.into_iter(),
                    value: None,
                }))
            }
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

struct Seq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Seq {
    type Error = serde_json::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Self::Error> {
        self.0
            .next()
            .map(|v| seed.deserialize(Typed(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Fields {
    iter: <Map<String, Value> as IntoIterator>::IntoIter,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for Fields {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(de::value::StringDeserializer::<Self::Error>::new(k))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(Typed(v)),
            None => Err(de::Error::custom("a value without its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(text: &str) -> Result<Value, JsonError> {
        value(text.as_bytes())
    }

    fn refused(text: &str) -> JsonError {
        strict(text).expect_err(text)
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Typed {
        n: u64,
        #[serde(default)]
        list: Vec<Item>,
        #[serde(default)]
        free: Option<Map<String, Value>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        code: String,
    }

    #[test]
    fn repeated_keys_are_refused_at_every_depth_with_their_path() {
        for (text, path, key) in [
            (r#"{"a":1,"a":1}"#, "", "a"),
            (r#"{"a":{"b":1,"c":2,"b":1}}"#, "a", "b"),
            (r#"{"a":{"b":{"c":true,"c":false}}}"#, "a.b", "c"),
            (r#"{"a":[{"x":1},{"y":1,"y":2}]}"#, "a[1]", "y"),
            (r#"[[{"z":null,"z":null}]]"#, "[0][0]", "z"),
            // The same key spelt with an escape is the same key.
            (r#"{"k":{"ab":1,"a\u0062":2}}"#, "k", "ab"),
        ] {
            let e = refused(text);
            assert_eq!(e.kind, JsonErrorKind::Strict, "{text}");
            assert_eq!(e.path, path, "{text}");
            // serde_json adds where in the text: `duplicate key "a" at line 1 column 10`.
            assert!(
                e.reason
                    .starts_with(&format!("duplicate key {key:?} at line 1 column ")),
                "{text}: {e}"
            );
        }
        // Through a typed reader: the typed path is named, free-form maps included.
        let e = from_slice::<Typed>(br#"{"n":1,"free":{"m":{"x":1,"x":2}}}"#).unwrap_err();
        assert!(
            e.at("payload")
                .starts_with(r#"payload.free.m: duplicate key "x" at "#),
            "{e}"
        );
        let e = from_slice::<Typed>(br#"{"n":1,"n":1}"#).unwrap_err();
        assert!(
            e.at("payload")
                .starts_with(r#"payload: duplicate key "n" at "#),
            "{e}"
        );
        // serde_json alone keeps the last of two keys in a map.
        let lax: Typed = serde_json::from_slice(br#"{"n":1,"free":{"x":1,"x":2}}"#).unwrap();
        assert_eq!(lax.free.unwrap()["x"], 2);
        // Distinct keys, and the same key in sibling objects, are fine.
        assert!(strict(r#"{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":1}]}"#).is_ok());
    }

    #[test]
    fn numbers_beyond_2_53_are_refused_whatever_their_form() {
        for ok in [
            "9007199254740991",
            "-9007199254740991",
            "0",
            "-0",
            "1.5",
            "-0.0",
            "1e15",
            "9007199254740990.5",
        ] {
            assert!(strict(ok).is_ok(), "{ok}");
        }
        for bad in [
            "9007199254740992",
            "-9007199254740992",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "1e16",
            "9.007199254740992e15",
            "-1e300",
        ] {
            let e = refused(bad);
            assert_eq!(e.kind, JsonErrorKind::Strict, "{bad}");
            assert!(e.reason.contains("2^53"), "{bad}: {e}");
        }
        // serde_json alone refuses 1e400 (out of f64's range): not JSON to any of our readers.
        assert_eq!(refused("1e400").kind, JsonErrorKind::Syntax);
        let e = from_slice::<Typed>(br#"{"n":9007199254740992}"#).unwrap_err();
        assert_eq!(e.path, "n");
        assert_eq!(
            from_slice::<Typed>(br#"{"n":9007199254740991}"#).unwrap().n,
            MAX_SAFE_INTEGER
        );
        let e = from_slice::<Typed>(br#"{"n":1,"free":{"a":[1,-9007199254740992]}}"#).unwrap_err();
        assert_eq!(e.path, "free.a[1]");
    }

    #[test]
    fn integer_fields_refuse_fractions_exponents_and_negative_zero() {
        for bad in ["1.0", "1e0", "1E2", "-0", "-1", "0.5"] {
            let text = format!(r#"{{"n":{bad}}}"#);
            let e = from_slice::<Typed>(text.as_bytes()).unwrap_err();
            assert_eq!(
                (e.kind, e.path.as_str()),
                (JsonErrorKind::Shape, "n"),
                "{bad}"
            );
        }
        // In free-form objects they are numbers like any other.
        assert!(from_slice::<Typed>(br#"{"n":0,"free":{"a":1.0,"b":-0,"c":2e3}}"#).is_ok());
    }

    #[test]
    fn only_one_utf8_json_value_is_read() {
        for (bad, kind) in [
            (&b"\xef\xbb\xbf{}"[..], JsonErrorKind::Syntax),
            (b"{} {}", JsonErrorKind::Syntax),
            (b"{}x", JsonErrorKind::Syntax),
            (b"", JsonErrorKind::Syntax),
            (b"{\"a\":\"\xc3\x28\"}", JsonErrorKind::Syntax),
            (b"{\"a\":\"\\ud800\"}", JsonErrorKind::Syntax),
            (b"{\"a\":\"\\udc00x\"}", JsonErrorKind::Syntax),
            (b"{\"a\":\"\x01\"}", JsonErrorKind::Syntax),
            (b"{'a':1}", JsonErrorKind::Syntax),
            (b"[1,]", JsonErrorKind::Syntax),
            (b"NaN", JsonErrorKind::Syntax),
            (b"01", JsonErrorKind::Syntax),
        ] {
            let e = value(bad).expect_err(&String::from_utf8_lossy(bad));
            assert_eq!(e.kind, kind, "{}: {e}", String::from_utf8_lossy(bad));
        }
        assert!(value(b" \n{\"a\":\"\\ud83d\\ude00\"}\t\r\n").is_ok());
    }

    #[test]
    fn nesting_is_limited() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(strict(&deep(MAX_DEPTH)).is_ok());
        let e = refused(&deep(MAX_DEPTH + 1));
        assert_eq!(e.kind, JsonErrorKind::Strict);
        assert!(e.reason.contains("deeper than 64"), "{e}");
        let objects = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        assert!(strict(&objects(MAX_DEPTH)).is_ok());
        assert_eq!(refused(&objects(MAX_DEPTH + 1)).kind, JsonErrorKind::Strict);
        // Far deeper than serde_json's own limit: refused, not a stack overflow.
        assert!(strict(&deep(100_000)).is_err());
    }

    #[test]
    fn typed_errors_name_the_path() {
        let e = from_slice::<Typed>(br#"{"n":1,"list":[{"code":"a"},{"code":2}]}"#).unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::Shape);
        assert_eq!(e.path, "list[1].code");
        assert!(e
            .at("payload")
            .starts_with("payload.list[1].code: invalid type"));
        let e = from_slice::<Typed>(br#"{"n":1,"extra":0}"#).unwrap_err();
        assert!(e.reason.contains("unknown field"), "{e}");
        let e = from_slice::<Vec<Item>>(br#"[{"code":"a"},{"code":1}]"#).unwrap_err();
        assert!(
            e.at("body").starts_with("body[1].code: invalid type"),
            "{e}"
        );
        let e = from_slice::<Typed>(b"{}").unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.at("")),
            ("", "missing field `n`".into())
        );
    }

    #[test]
    fn structs_are_read_from_objects_only() {
        // serde_json's own reading takes a struct's fields as an array, in order.
        let lax: Typed = serde_json::from_slice(br#"[1,[["a"]]]"#).unwrap();
        assert_eq!(lax.list.len(), 1);
        let e = from_slice::<Typed>(br#"[1,[]]"#).unwrap_err();
        assert_eq!((e.kind, e.path.as_str()), (JsonErrorKind::Shape, ""));
        assert!(e.reason.contains("invalid type: sequence"), "{e}");
        let e = from_slice::<Typed>(br#"{"n":1,"list":[["a"]]}"#).unwrap_err();
        assert_eq!(e.path, "list[0]");
        // Arrays are still arrays, and free-form values anything.
        let t = from_slice::<Typed>(br#"{"n":1,"list":[{"code":"a"}],"free":{"x":[[1],{}]}}"#);
        assert_eq!(t.unwrap().list[0].code, "a");
    }

    #[test]
    fn what_is_accepted_reads_the_same_as_serde_json() {
        let text = r#"{"b":[1,-2,3.25,"s",null,true,{"z":{}}],"a":"\u00e9\n"}"#;
        let v = strict(text).unwrap();
        assert_eq!(v, serde_json::from_str::<Value>(text).unwrap());
        // Key order is kept.
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            text.replace("\\u00e9", "é")
        );
    }
}
