//! The strict JSON reader (src/json.rs) must never panic, and what it accepts must read the
//! same to every reader: serde_json's own reading of the bytes is the same value, the value
//! written back out reads back the same, and each statement type that reads it strictly reads
//! it with serde_json alone too, to an equal value that re-serialises and re-reads equal.
#![no_main]

use datapole::json;
use datapole::statement::access::AccessPayload;
use datapole::statement::consent::{ConsentActionPayload, ConsentPayload};
use datapole::statement::deposit::DepositPayload;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Equal, floats within one unit in the last place (serde_json's default float reading is
/// not always exact on a round trip).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || x.to_bits().abs_diff(y.to_bits()) <= 1,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
        }
        _ => a == b,
    }
}

fn typed<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8], v: &Value) {
    let Ok(strict) = json::from_slice::<T>(data) else {
        return;
    };
    // The same through the strict value (what the API does), and through serde_json alone.
    let via_value: T = json::from_value(v.clone()).expect("the value reads as the bytes do");
    assert_eq!(via_value, strict);
    let lax: T = serde_json::from_slice(data).expect("strict-accepted, lax-refused");
    assert_eq!(lax, strict);
    // Written back out, it reads back.
    let again = serde_json::to_vec(&strict).expect("serialises");
    let back: T = json::from_slice(&again).expect("its own serialisation is strict JSON");
    if !has_float(v) {
        assert_eq!(back, strict);
    }
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = json::value(data) else {
        return;
    };
    let lax: Value = serde_json::from_slice(data).expect("strict-accepted, lax-refused");
    assert!(same(&lax, &v), "serde_json reads another value");
    let text = serde_json::to_vec(&v).expect("serialises");
    let back = json::value(&text).expect("its own serialisation is strict JSON");
    assert!(same(&back, &v), "the round trip changed the value");
    typed::<DepositPayload>(data, &v);
    typed::<ConsentPayload>(data, &v);
    typed::<ConsentActionPayload>(data, &v);
    typed::<AccessPayload>(data, &v);
});
