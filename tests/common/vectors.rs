//! One set of receipt vectors for both receipt verifiers, the Rust one (`datapole verify`) and
//! the pages' JavaScript one (`src/web/assets/verify.js`): real receipt files of every kind
//! from a running log, and tampered variants of each. `tests/web_verifier.rs` runs them
//! through Node's WebCrypto, `tests/browser.rs` through the verify page in Chromium; both
//! require the same failed checks as the Rust verifier's. `tests/receipt_vectors.rs` writes
//! them, with the Rust verdicts, to the committed `tests/vectors/receipts.json`, which the
//! Python client's verifier checks without cargo.

use base64::prelude::*;
use serde_json::{json, Value};

use super::{nonce, register, Answer, Participant, Server};
use datapole::log::{Hash, LogSigner};
use datapole::statement::access::ACCESS_TYPE;
use datapole::statement::consent::{CONSENT_TYPE, WITHDRAWAL_TYPE};
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;

/// The content of the public deposit (looked up by the explorer's file check).
pub const PUBLIC_CONTENT: &[u8] = b"Occitanie air quality, hourly, 2026\n";

/// A running log with a hospital (controller and depositor), a lab (accessor), a dataset,
/// the receipt files of every kind, and a consent left given for a citizen to act on.
pub struct Scenario {
    pub server: Server,
    pub vkey: String,
    pub admin: String,
    pub hospital: Participant,
    pub lab: Participant,
    pub dataset: String,
    /// Valid receipt files, as the API answered them: (kind, file).
    pub documents: Vec<(String, Value)>,
    /// A citizen's consent receipt whose consent is still given and was used once by the lab.
    pub citizen: Value,
    /// Genuine receipt files of *another* log (its own key, the same origin name): invalid
    /// under this log's key. (name, file)
    pub foreign: Vec<(String, Value)>,
    /// Receipts of entries made by hand and signed with this log's key (see [`crafted`]).
    pub crafted: Vec<(String, Value)>,
    /// The other log, kept running (its receipts' secrets work there, not here).
    pub other_server: Option<Server>,
}

pub use super::{consent_payload, post};

impl Scenario {
    /// Records a consent; the citizen's receipt.
    pub fn consent(&self) -> Value {
        let payload = consent_payload(&self.dataset, &self.lab.id);
        let a = post(
            &self.server,
            "/v1/consents",
            &self.hospital.sign(CONSENT_TYPE, &payload),
            None,
        );
        assert_eq!(a.status, 201, "{}", a.text());
        a.json()
    }

    /// The lab queries the dataset under `consent_id`; the answer (201 permit or 403 deny).
    pub fn access(&self, consent_id: &str) -> Answer {
        let payload = json!({
            "dataset_id": self.dataset,
            "action": "query",
            "purpose": {"code": "cohort-2027"},
            "legal_basis": "consent",
            "consent_ids": [consent_id],
            "issued_at": chrono::Utc::now().to_rfc3339(),
            "nonce": nonce(),
        });
        post(
            &self.server,
            "/v1/accesses",
            &self.lab.sign(ACCESS_TYPE, &payload),
            None,
        )
    }

    fn deposit(&self, content: &[u8], visibility: &str) -> Value {
        let payload = super::deposit_payload(content, visibility);
        let a = post(
            &self.server,
            "/v1/deposits",
            &self.hospital.sign(DEPOSIT_TYPE, &payload),
            None,
        );
        assert_eq!(a.status, 201, "{}", a.text());
        a.json()
    }
}

fn id_of(v: &Value) -> String {
    v["consent_id"].as_str().unwrap().to_owned()
}

fn secret_of(v: &Value) -> String {
    v["citizen_secret"].as_str().unwrap().to_owned()
}

/// A log with a hospital, a lab and a private dataset, but no receipt yet.
fn world(dir: &std::path::Path) -> Scenario {
    let server = Server::start(dir);
    let admin = server.admin_token();
    let vkey = server.vkey();
    let hospital = register(&server, &admin, 1, &["controller", "depositor"]);
    let lab = register(&server, &admin, 3, &["accessor"]);
    let mut s = Scenario {
        other_server: None,
        server,
        vkey,
        admin,
        hospital,
        lab,
        dataset: String::new(),
        documents: Vec::new(),
        citizen: Value::Null,
        foreign: Vec::new(),
        crafted: Vec::new(),
    };
    let private = s.deposit(b"patient cohort extract", "private");
    s.dataset = private["dataset_id"].as_str().unwrap().to_owned();
    s.documents.push(("private deposit".into(), private));
    s
}

/// Starts a log and makes a receipt of every kind; and another log, with receipts of its own.
pub fn scenario(dir: &std::path::Path) -> Scenario {
    let other = world(&dir.join("other"));
    let foreign = vec![
        (
            "another log/registration".to_owned(),
            other.server.get("/v1/receipts/0").json(),
        ),
        ("another log/consent".to_owned(), other.consent()),
    ];
    let mut s = world(&dir.join("data"));
    s.other_server = Some(other.server);
    s.foreign = foreign;
    let mut docs = vec![(
        "registration".to_owned(),
        s.server.get("/v1/receipts/0").json(),
    )];
    docs.push(("public deposit".into(), s.deposit(PUBLIC_CONTENT, "public")));
    // A registry that deposits for the hospital: the entry names its controller.
    let registry = register(&s.server, &s.admin, 4, &["depositor"]);
    let mut payload = super::deposit_payload(b"registry extract for the hospital", "public");
    payload["controller"] = json!(s.hospital.id);
    let a = post(
        &s.server,
        "/v1/deposits",
        &registry.sign(DEPOSIT_TYPE, &payload),
        None,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    docs.push(("deposit under a controller".into(), a.json()));
    docs.append(&mut s.documents);

    // Consent A: given, used once by the lab, left given.
    let a = s.consent();
    let permit = s.access(&id_of(&a));
    assert_eq!(permit.status, 201, "{}", permit.text());
    docs.push(("consent".into(), a.clone()));
    docs.push(("access permit".into(), permit.json()));

    // Consent B: the citizen withdraws it, the lab is then denied, the citizen erases it.
    let b = s.consent();
    let withdraw = post(
        &s.server,
        &format!("/v1/consents/{}/withdraw", id_of(&b)),
        b"",
        Some(&secret_of(&b)),
    );
    assert_eq!(withdraw.status, 201, "{}", withdraw.text());
    docs.push(("citizen withdrawal".into(), withdraw.json()));
    let deny = s.access(&id_of(&b));
    assert_eq!(deny.status, 403, "{}", deny.text());
    docs.push(("access deny".into(), deny.json()));
    let erase = post(
        &s.server,
        &format!("/v1/consents/{}/erase", id_of(&b)),
        b"",
        Some(&secret_of(&b)),
    );
    assert_eq!(erase.status, 201, "{}", erase.text());
    docs.push(("citizen erasure".into(), erase.json()));

    // Consent C: the hospital withdraws it with a signed statement.
    let c = s.consent();
    let action = json!({"consent_id": id_of(&c), "reason": "the person asked at the front desk",
                        "issued_at": chrono::Utc::now().to_rfc3339(), "nonce": nonce()});
    let withdraw = post(
        &s.server,
        &format!("/v1/consents/{}/withdraw", id_of(&c)),
        &s.hospital.sign(WITHDRAWAL_TYPE, &action),
        None,
    );
    assert_eq!(withdraw.status, 201, "{}", withdraw.text());
    docs.push(("controller withdrawal".into(), withdraw.json()));

    s.documents = docs;
    s.citizen = a;
    s.crafted = crafted(&s);
    s
}

/// A receipt for a one-entry tree holding `leaf`, its checkpoint signed with this log's own
/// key: how the operator (or a thief of the log key) could issue any entry. `base` gives the
/// rest (signer, statement, opening).
fn receipt_for_leaf(s: &Scenario, base: &Value, leaf: &[u8], signer: &LogSigner) -> Value {
    use sha2::Digest;
    let root: [u8; 32] = sha2::Sha256::new()
        .chain_update([0u8])
        .chain_update(leaf)
        .finalize()
        .into();
    let checkpoint = signer.sign(1, Hash(root)).unwrap();
    let mut r = base.clone();
    r["leaf"] = json!(BASE64_STANDARD.encode(leaf));
    r["index"] = json!(0);
    r["inclusion"] = json!({"tree_size": 1, "hashes": []});
    r["checkpoint"] = json!(checkpoint.note);
    r["log"]["vkey"] = json!(s.vkey);
    r
}

/// Receipts whose entries were made by hand and signed with the log's key: one well-formed
/// (valid), and entries or documents that JSON.parse would read but the log's types refuse
/// (an unknown version or field, a key twice, a byte-order mark, a fraction, a field
/// missing), and a DSSE payload whose base64 padding is short. (name, receipt)
fn crafted(s: &Scenario) -> Vec<(String, Value)> {
    let skey = std::fs::read_to_string(s.server.data_dir.join("log.key")).unwrap();
    let signer = LogSigner::from_skey(&skey, None).unwrap();
    let (_, public) = s
        .documents
        .iter()
        .find(|(n, _)| n == "public deposit")
        .unwrap();
    let base = &public["receipt"];
    let mut leaf: Value = serde_json::from_slice(
        &BASE64_STANDARD
            .decode(base["leaf"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    // The hospital signs a statement of its own for it, its payload a length whose base64 ends
    // in "==" (so that one "=" can be dropped).
    let payload_of = |envelope: &Value| -> Value {
        serde_json::from_slice(
            &BASE64_STANDARD
                .decode(envelope["payload"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let mut payload = payload_of(&leaf["statement"]);
    let mut description = String::new();
    while {
        payload["description"] = json!(description);
        payload.to_string().len() % 3 != 1
    } {
        description.push('x');
    }
    let envelope: Value = serde_json::from_slice(&s.hospital.sign(DEPOSIT_TYPE, &payload)).unwrap();
    leaf["statement"] = envelope;
    let mut out = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| {
        out.push((name.to_owned(), receipt_for_leaf(s, base, &bytes, &signer)));
    };
    add("crafted deposit", serde_json::to_vec(&leaf).unwrap());
    let mut v2 = leaf.clone();
    v2["v"] = json!(2);
    add(
        "crafted deposit/version 2",
        serde_json::to_vec(&v2).unwrap(),
    );
    let mut extra = leaf.clone();
    extra["note"] = json!("x");
    add(
        "crafted deposit/unknown field",
        serde_json::to_vec(&extra).unwrap(),
    );
    let text = serde_json::to_string(&leaf).unwrap();
    add(
        "crafted deposit/a key twice",
        text.replacen("{", "{\"size\":1,", 1).into_bytes(),
    );
    add(
        "crafted deposit/byte-order mark",
        [b"\xef\xbb\xbf".as_slice(), text.as_bytes()].concat(),
    );
    let size = leaf["size"].as_u64().unwrap();
    add(
        "crafted deposit/size with a fraction",
        text.replacen(
            &format!("\"size\":{size}"),
            &format!("\"size\":{size}.0"),
            1,
        )
        .into_bytes(),
    );
    let mut short = leaf.clone();
    let padded = short["statement"]["payload"].as_str().unwrap().to_owned();
    assert!(padded.ends_with("=="), "{padded}");
    short["statement"]["payload"] = json!(&padded[..padded.len() - 1]);
    add(
        "crafted deposit/payload base64 short of a padding",
        serde_json::to_vec(&short).unwrap(),
    );

    // A dataset's controller, on the entry and in the statement: they must agree (a first
    // version that names none is its depositor's).
    let other = uuid::Uuid::new_v4().to_string();
    let mut named = payload.clone();
    named["controller"] = json!(other);
    let mut with = leaf.clone();
    with["statement"] = serde_json::from_slice(&s.hospital.sign(DEPOSIT_TYPE, &named)).unwrap();
    add(
        "crafted deposit/statement names a controller the entry does not",
        serde_json::to_vec(&with).unwrap(),
    );
    with["controller"] = json!(other);
    add(
        "crafted deposit with its controller on the entry and in the statement",
        serde_json::to_vec(&with).unwrap(),
    );
    let mut entry_only = leaf.clone();
    entry_only["controller"] = json!(other);
    add(
        "crafted deposit/entry names a controller the statement does not",
        serde_json::to_vec(&entry_only).unwrap(),
    );

    // One signed text, one meaning (issue #15): statements whose payload JSON.parse and
    // serde_json would read differently, or one reader not at all. The hospital signs exactly
    // these payload bytes; the entry describes them.
    let sign_raw = |payload: &str| -> Value {
        serde_json::from_slice(
            &Envelope::sign(
                DEPOSIT_TYPE,
                payload.as_bytes(),
                &s.hospital.id,
                &s.hospital.key,
            )
            .to_bytes()
            .unwrap(),
        )
        .unwrap()
    };
    let with_statement = |payload: &str, size: u64| -> Vec<u8> {
        let mut l = leaf.clone();
        l["statement"] = sign_raw(payload);
        l["size"] = json!(size);
        serde_json::to_vec(&l).unwrap()
    };
    let size = leaf["size"].as_u64().unwrap();
    let mut p = payload.clone();
    p["metadata"] = json!({"a": {"placeholder": 0}});
    let text = p.to_string();
    add(
        "crafted deposit/metadata with a key twice",
        with_statement(
            &text.replace(r#"{"placeholder":0}"#, r#"{"x":1,"y":[],"x":2}"#),
            size,
        ),
    );
    add(
        "crafted deposit/metadata number beyond 2^53",
        with_statement(
            &text.replace(r#"{"placeholder":0}"#, r#"{"x":9007199254740993}"#),
            size,
        ),
    );
    add(
        "crafted deposit/sha256 twice in its payload",
        with_statement(
            &payload.to_string().replacen(
                '{',
                &format!("{{\"sha256\":\"{}\",", "00".repeat(32)),
                1,
            ),
            size,
        ),
    );
    for (name, n) in [
        ("crafted deposit of 2^53-1 bytes", (1u64 << 53) - 1),
        ("crafted deposit/size 2^53", 1 << 53),
    ] {
        let mut p = payload.clone();
        p["size"] = json!(n);
        add(name, with_statement(&p.to_string(), n));
    }
    // Any spelling of a UUID the uuid crate reads names the same dataset.
    let mut p = payload.clone();
    p["dataset_id"] = json!(leaf["dataset_id"].as_str().unwrap().to_uppercase());
    add(
        "crafted deposit naming its dataset in upper case",
        with_statement(&p.to_string(), size),
    );

    // A citizen's withdrawal whose document lacks `initiated_by`.
    let (_, withdrawal) = s
        .documents
        .iter()
        .find(|(n, _)| n == "citizen withdrawal")
        .unwrap();
    let base = &withdrawal["receipt"];
    let mut record: Value = serde_json::from_slice(
        &BASE64_STANDARD
            .decode(base["leaf"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut document: Value = serde_json::from_slice(
        &BASE64_STANDARD
            .decode(base["opening"]["document"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    document.as_object_mut().unwrap().remove("initiated_by");
    let document = serde_json::to_vec(&document).unwrap();
    let salt = [9u8; 32];
    record["commitment"] = json!(datapole::field::hex(&datapole::statement::commitment(
        &salt, &document
    )));
    let mut receipt = receipt_for_leaf(s, base, &serde_json::to_vec(&record).unwrap(), &signer);
    receipt["opening"] = json!({"salt": BASE64_STANDARD.encode(salt),
                                "document": BASE64_STANDARD.encode(&document)});
    out.push((
        "crafted withdrawal/document without initiated_by".into(),
        receipt,
    ));

    // An access record whose statement, signed by the lab, names a key twice: the log would
    // have read it one way, JSON.parse another.
    let (_, permit) = s
        .documents
        .iter()
        .find(|(n, _)| n == "access permit")
        .unwrap();
    let base = &permit["receipt"];
    let mut record: Value = serde_json::from_slice(
        &BASE64_STANDARD
            .decode(base["leaf"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut document: Value = serde_json::from_slice(
        &BASE64_STANDARD
            .decode(base["opening"]["document"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let statement: Value = document["statement"].clone();
    let signed: Value = serde_json::from_slice(
        &BASE64_STANDARD
            .decode(statement["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let twice = signed
        .to_string()
        .replacen('{', "{\"action\":\"export\",", 1);
    document["statement"] = serde_json::from_slice(
        &Envelope::sign(ACCESS_TYPE, twice.as_bytes(), &s.lab.id, &s.lab.key)
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    let document = serde_json::to_vec(&document).unwrap();
    record["commitment"] = json!(datapole::field::hex(&datapole::statement::commitment(
        &salt, &document
    )));
    let mut receipt = receipt_for_leaf(s, base, &serde_json::to_vec(&record).unwrap(), &signer);
    receipt["opening"] = json!({"salt": BASE64_STANDARD.encode(salt),
                                "document": BASE64_STANDARD.encode(&document)});
    out.push(("crafted access/statement with a key twice".into(), receipt));
    out
}

/// Flips the last bit of a base64 field's bytes.
pub fn flip_b64(s: &str) -> String {
    let mut b = BASE64_STANDARD.decode(s).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    BASE64_STANDARD.encode(b)
}

/// Tampered variants of a receipt file, each named `<name>/<what was changed>`; only those
/// that change something.
pub fn tampered(name: &str, doc: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let wrapped = doc.get("format").is_none() && doc.get("receipt").is_some();
    let mut add = |what: &str, f: &dyn Fn(&mut Value)| {
        let mut d = doc.clone();
        let r = if wrapped { &mut d["receipt"] } else { &mut d };
        f(r);
        if d != *doc {
            out.push((format!("{name}/{what}"), d));
        }
    };
    add("leaf", &|r| {
        r["leaf"] = json!(flip_b64(r["leaf"].as_str().unwrap()))
    });
    add("index", &|r| {
        r["index"] = json!(r["index"].as_u64().unwrap() + 1)
    });
    add("proof", &|r| {
        if let Some(h) = r["inclusion"]["hashes"].get_mut(0) {
            *h = json!(flip_b64(h.as_str().unwrap()));
        }
    });
    add("checkpoint size", &|r| {
        let cp = r["checkpoint"].as_str().unwrap();
        let mut lines: Vec<String> = cp.split('\n').map(str::to_owned).collect();
        let size: u64 = lines[1].parse().unwrap();
        lines[1] = (size + 1).to_string();
        r["checkpoint"] = json!(lines.join("\n"));
    });
    add("checkpoint signature", &|r| {
        let cp = r["checkpoint"].as_str().unwrap().to_owned();
        let (text, sig) = cp.rsplit_once(' ').unwrap();
        r["checkpoint"] = json!(format!("{text} {}\n", flip_b64(sig.trim_end())));
    });
    add("format", &|r| r["format"] = json!("datapole.receipt.v0"));
    add("salt", &|r| {
        if let Some(salt) = r.pointer_mut("/opening/salt") {
            *salt = json!(flip_b64(salt.as_str().unwrap()));
        }
    });
    add("document", &|r| {
        if let Some(d) = r.pointer_mut("/opening/document") {
            *d = json!(flip_b64(d.as_str().unwrap()));
        }
    });
    add("statement signature", &|r| {
        if let Some(sig) = r.pointer_mut("/statement/signatures/0/sig") {
            *sig = json!(flip_b64(sig.as_str().unwrap()));
        }
    });
    add("statement dropped", &|r| {
        if r.get("opening").is_some() {
            if let Some(o) = r.as_object_mut() {
                o.remove("statement");
            }
        }
    });
    add("statement payload", &|r| {
        if let Some(p) = r.pointer_mut("/statement/payload") {
            let mut v: Value =
                serde_json::from_slice(&BASE64_STANDARD.decode(p.as_str().unwrap()).unwrap())
                    .unwrap();
            v["nonce"] = json!(nonce());
            *p = json!(BASE64_STANDARD.encode(v.to_string()));
        }
    });
    add("opening added", &|r| {
        if r.get("opening").is_none() {
            r["opening"] = json!({"salt": BASE64_STANDARD.encode([7u8; 32])});
        }
    });
    add("opening dropped", &|r| {
        if let Some(o) = r.as_object_mut() {
            if o.contains_key("opening") && o.contains_key("signer") {
                o.remove("opening");
                o.remove("statement");
            }
        }
    });
    add("salt with a newline", &|r| {
        if let Some(salt) = r.pointer_mut("/opening/salt") {
            let text = salt.as_str().unwrap();
            *salt = json!(format!("{}\n{}", &text[..20], &text[20..]));
        }
    });
    add("salt not canonical", &|r| {
        if let Some(salt) = r.pointer_mut("/opening/salt") {
            // 32 bytes: 43 characters and "="; the 43rd carries 2 bits that must be zero.
            let mut chars: Vec<u8> = salt.as_str().unwrap().bytes().collect();
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let at = ALPHABET.iter().position(|&c| c == chars[42]).unwrap();
            chars[42] = ALPHABET[at | 1];
            *salt = json!(String::from_utf8(chars).unwrap());
        }
    });
    add("index as text", &|r| {
        r["index"] = json!(r["index"].as_u64().unwrap().to_string())
    });
    add("tree size as text", &|r| {
        r["inclusion"]["tree_size"] =
            json!(r["inclusion"]["tree_size"].as_u64().unwrap().to_string())
    });
    add("unknown field", &|r| r["note"] = json!("trust me"));
    add("signer key", &|r| {
        if let Some(k) = r.pointer_mut("/signer/public_key") {
            *k = json!(BASE64_STANDARD.encode(super::test_key(99)));
        }
    });
    add("signer added", &|r| {
        if r.pointer("/opening/document").is_some() && r.get("signer").is_none() {
            r["signer"] = json!({"participant_id": "00000000-0000-4000-8000-000000000000",
                                 "public_key": BASE64_STANDARD.encode(super::test_key(99))});
        }
    });
    // What a citizen's consent receipt shows beside its log receipt.
    if doc.get("record").is_some() {
        let mut shown = |what: &str, f: &dyn Fn(&mut Value)| {
            let mut d = doc.clone();
            f(&mut d);
            out.push((format!("{name}/{what}"), d));
        };
        shown("record purpose", &|d| {
            d["record"]["purposes"][0]["text"] = json!("Prospection commerciale")
        });
        shown("record recipients", &|d| {
            d["record"]["recipients"] = json!([])
        });
        shown("consent id", &|d| {
            d["consent_id"] = json!("00000000-0000-4000-8000-000000000000")
        });
        shown("expires_at", &|d| {
            d["expires_at"] = json!("2099-01-01T00:00:00.000Z")
        });
        shown("expires_at as a number", &|d| {
            d["expires_at"] = json!(4102444800000u64)
        });
    }
    out
}

/// Every valid file of the scenario, each followed by its tampered variants, then the other
/// log's genuine files (invalid here), then the hand-made entries.
pub fn all(s: &Scenario) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (name, doc) in &s.documents {
        out.push((name.clone(), doc.clone()));
        out.extend(tampered(name, doc));
    }
    out.extend(s.foreign.iter().cloned());
    out.extend(s.crafted.iter().cloned());
    out
}

/// The names of the checks the Rust verifier fails on a file, with the pinned log key; a
/// file that holds no receipt fails `format`.
pub fn rust_failed(doc: &Value, vkey: &str) -> Vec<String> {
    match datapole::verify::receipt::verify_document(doc, Some(vkey)) {
        Ok((report, _)) => report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.to_owned())
            .collect(),
        Err(_) => vec!["format".to_owned()],
    }
}
