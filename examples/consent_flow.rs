//! A consent's whole life against a running datapole, printing each step: a hospital records
//! a citizen's consent, the citizen checks the receipt offline and reads its status, a lab is
//! permitted to use the data, the citizen withdraws, the same access is then denied, and the
//! citizen sees both decisions. Exits non-zero if any step does not go as described.
//!
//! ```text
//! cargo run --release -- serve &
//! cargo run --release --example consent_flow -- --admin-token-file datapole-data/admin-token
//! ```

use std::path::PathBuf;

use anyhow::{bail, ensure, Context};
use base64::prelude::*;
use clap::Parser;
use datapole::receipt::Receipt;
use datapole::statement::access::ACCESS_TYPE;
use datapole::statement::consent::CONSENT_TYPE;
use datapole::statement::deposit::DEPOSIT_TYPE;
use datapole::statement::dsse::Envelope;
use datapole::verify::receipt::{check_citizen_record, verify_receipt};
use ed25519_dalek::SigningKey;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Runs the consent flow.
#[derive(Parser)]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// File holding the operator's admin token (to register the hospital and the lab).
    #[arg(long, default_value = "datapole-data/admin-token")]
    admin_token_file: PathBuf,
    /// Where to save the citizen's receipt.
    #[arg(long, default_value = "citizen-receipt.json")]
    out: PathBuf,
}

/// An HTTP answer: status and JSON body, error statuses included.
fn call(r: Result<ureq::Response, ureq::Error>) -> anyhow::Result<(u16, Value)> {
    match r {
        Ok(resp) => Ok((resp.status(), resp.into_json()?)),
        Err(ureq::Error::Status(code, resp)) => Ok((code, resp.into_json().unwrap_or_default())),
        Err(e) => Err(e.into()),
    }
}

fn expect(answer: (u16, Value), status: u16, what: &str) -> anyhow::Result<Value> {
    if answer.0 != status {
        bail!("{what}: HTTP {} {}", answer.0, answer.1);
    }
    Ok(answer.1)
}

fn nonce() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    BASE64_URL_SAFE_NO_PAD.encode(b)
}

/// HMAC-SHA-256 (RFC 2104): how a controller turns its patient number into a pseudonym that
/// nobody without its key can link back.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let h = Sha256::new()
        .chain_update(&inner)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer)
        .chain_update(h)
        .finalize()
        .into()
}

struct Org {
    id: String,
    key: SigningKey,
}

impl Org {
    fn register(args: &Args, admin: &str, name: &str, roles: &[&str]) -> anyhow::Result<Self> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let public = BASE64_STANDARD.encode(key.verifying_key().as_bytes());
        let v = expect(
            call(
                ureq::post(&format!("{}/v1/participants", args.url))
                    .set("authorization", &format!("Bearer {admin}"))
                    .send_json(json!({"name": name, "roles": roles, "public_key": public})),
            )?,
            201,
            "registering",
        )?;
        let id = v["participant_id"].as_str().unwrap_or_default().to_owned();
        println!("   {name}: participant {id} ({})", roles.join(", "));
        Ok(Self { id, key })
    }

    fn post(
        &self,
        args: &Args,
        path: &str,
        ty: &str,
        payload: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        let envelope = Envelope::sign(ty, payload.to_string().as_bytes(), &self.id, &self.key);
        call(
            ureq::post(&format!("{}{path}", args.url))
                .set("content-type", "application/json")
                .send_bytes(&envelope.to_bytes().unwrap()),
        )
    }
}

fn print_checks(report: &datapole::verify::receipt::Report) {
    for c in &report.checks {
        println!(
            "   {} {}: {}",
            if c.ok { "✓" } else { "✗" },
            c.name,
            c.detail
        );
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let admin = std::fs::read_to_string(&args.admin_token_file)
        .with_context(|| format!("reading {}", args.admin_token_file.display()))?;
    let admin = admin.trim();
    let (_, log) = call(ureq::get(&format!("{}/v1/log", args.url)).call())?;
    // A real citizen's app pins the log key once, out of band; here it is read from the log.
    let vkey = log["vkey"].as_str().unwrap_or_default().to_owned();

    println!("1. The operator registers a hospital (controller) and a research lab (accessor)");
    let chu = Org::register(&args, admin, "CHU Example", &["controller", "depositor"])?;
    let lab = Org::register(&args, admin, "Lab Example", &["accessor"])?;

    println!("2. The hospital deposits the dataset the consent is about (privately)");
    let content = b"pseudonymised diabetes cohort, 2026 extract";
    let deposited = expect(
        chu.post(
            &args,
            "/v1/deposits",
            DEPOSIT_TYPE,
            &json!({
                "sha256": datapole::field::hex(&Sha256::digest(content)),
                "size": content.len(),
                "media_type": "text/csv",
                "title": "Diabetes cohort 2026",
                "visibility": "private",
                "issued_at": chrono::Utc::now().to_rfc3339(),
                "nonce": nonce(),
            }),
        )?,
        201,
        "depositing",
    )?;
    let dataset = deposited["dataset_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!("   dataset {dataset}");

    println!("3. The hospital records the citizen's consent, under its own pseudonym");
    let mut hmac_key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut hmac_key);
    let subject_ref = format!(
        "hmac-sha256:{}",
        datapole::field::hex(&hmac_sha256(&hmac_key, b"patient 000123"))
    );
    let consent = json!({
        "subject_ref": subject_ref,
        "expressed_by": {"role": "self"},
        "indication_method": "web_form",
        "notice": {"url": "https://chu.example/notices/cohort-2026", "sha256": datapole::field::hex(&Sha256::digest(b"notice text v3")), "version": "3", "language": "fr"},
        "purposes": [{"code": "cohort-2026", "text": "Étude de cohorte sur le diabète de type 2"}],
        "legal_basis": "gdpr-9-2-a",
        "data_categories": ["health"],
        "special_category": true,
        "datasets": [dataset],
        "recipients": [lab.id],
        "jurisdiction": "FR",
        "storage_location": "FR",
        "retention_period": "P5Y",
        "validity": {"duration": "P2Y"},
        "withdrawal_method": "https://chu.example/consents",
        "decision": "given",
        "issued_at": chrono::Utc::now().to_rfc3339(),
        "nonce": nonce(),
    });
    let citizen = expect(
        chu.post(&args, "/v1/consents", CONSENT_TYPE, &consent)?,
        201,
        "recording the consent",
    )?;
    let id = citizen["consent_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret = citizen["citizen_secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    std::fs::write(&args.out, serde_json::to_string_pretty(&citizen)?)?;
    println!(
        "   consent {id}, entry {}; the citizen's receipt is saved to {}",
        citizen["index"],
        args.out.display()
    );
    println!("   on the public log, only: {}", {
        let r: Receipt = serde_json::from_value(citizen["receipt"].clone())?;
        String::from_utf8_lossy(&r.leaf_bytes().unwrap_or_default()).into_owned()
    });

    println!("4. The citizen verifies the receipt offline, with the log key alone");
    let receipt: Receipt = serde_json::from_value(citizen["receipt"].clone())?;
    let mut report = verify_receipt(&receipt, Some(&vkey));
    report.checks.push(check_citizen_record(
        &receipt,
        Some(&id),
        &citizen["record"],
        citizen["expires_at"].as_str(),
    ));
    print_checks(&report);
    ensure!(report.ok(), "the citizen's receipt does not verify");

    let read = |path: &str| {
        call(
            ureq::get(&format!("{}/v1/consents/{id}{path}", args.url))
                .set("authorization", &format!("Bearer {secret}"))
                .call(),
        )
    };
    println!("5. The citizen reads the consent with the receipt's secret");
    let status = expect(read("")?, 200, "reading the consent")?;
    println!("   status {}", status["status"]);

    println!("6. The lab asks to query the dataset under the consent: permitted");
    let access = |n: String| {
        json!({
            "dataset_id": dataset,
            "action": "query",
            "purpose": {"code": "cohort-2026"},
            "legal_basis": "consent",
            "consent_ids": [id],
            "issued_at": chrono::Utc::now().to_rfc3339(),
            "nonce": n,
        })
    };
    let permit = expect(
        lab.post(&args, "/v1/accesses", ACCESS_TYPE, &access(nonce()))?,
        201,
        "the first access",
    )?;
    println!(
        "   {} ({}), entry {}",
        permit["decision"], permit["reason"], permit["index"]
    );

    println!("7. The citizen withdraws, with the secret and nothing else");
    let withdrawn = expect(
        call(
            ureq::post(&format!("{}/v1/consents/{id}/withdraw", args.url))
                .set("authorization", &format!("Bearer {secret}"))
                .send_bytes(b""),
        )?,
        201,
        "withdrawing",
    )?;
    println!(
        "   status {}, entry {}",
        withdrawn["status"], withdrawn["index"]
    );

    println!("8. The lab asks again: denied, and the denial is on the log too");
    let deny = expect(
        lab.post(&args, "/v1/accesses", ACCESS_TYPE, &access(nonce()))?,
        403,
        "the second access",
    )?;
    println!(
        "   {} ({}), entry {}",
        deny["decision"], deny["reason"], deny["index"]
    );
    ensure!(
        deny["reason"] == "consent_withdrawn",
        "denied for {}",
        deny["reason"]
    );

    println!("9. The citizen sees who used the data, and why");
    let list = expect(read("/accesses")?, 200, "listing accesses")?;
    let accesses = list["accesses"].as_array().cloned().unwrap_or_default();
    for a in &accesses {
        let r: Receipt = serde_json::from_value(a["receipt"].clone())?;
        let ok = verify_receipt(&r, Some(&vkey)).ok();
        println!(
            "   {} {} {} {} for {}: {} ({}), receipt {}",
            a["time"].as_str().unwrap_or_default(),
            a["accessor_name"].as_str().unwrap_or_default(),
            a["action"].as_str().unwrap_or_default(),
            a["dataset_id"].as_str().unwrap_or_default(),
            a["purpose"].as_str().unwrap_or_default(),
            a["decision"].as_str().unwrap_or_default(),
            a["reason"].as_str().unwrap_or_default(),
            if ok { "valid" } else { "INVALID" }
        );
        ensure!(ok, "an access receipt does not verify");
    }
    ensure!(
        accesses.len() == 2,
        "expected 2 accesses, got {}",
        accesses.len()
    );
    println!("done: both decisions are on the log, and the citizen holds a receipt for each");
    Ok(())
}
