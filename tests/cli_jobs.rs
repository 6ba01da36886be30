//! Every job of a participant, an auditor and a citizen done with the `datapole` binary alone,
//! against the real server, from the payload templates of `examples/payloads/`: the operator
//! registers participants, a hospital deposits a file and records a consent, a lab is
//! permitted, the citizen reads, withdraws and erases with the receipt file, the controller
//! withdraws with a signed payload, receipts are fetched, shown and verified against the bytes;
//! and the refusals, each with the server's code and every problem it lists, changing nothing.
//! The templates themselves are checked against `schemas/` with a validator that is not ours.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{binary, Server};
use serde_json::Value;

/// The payload templates, relative to the crate root.
fn template(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/payloads")
        .join(name)
}

/// The binary in `dir`, talking to `server`, with no setting from the machine's user.
fn datapole(server: &Server, dir: &Path) -> Command {
    let mut cmd = Command::new(binary());
    for var in [
        "DATAPOLE_SERVER",
        "DATAPOLE_TOKEN",
        "DATAPOLE_PARTICIPANT",
        "DATAPOLE_PARTICIPANT_FILE",
        "DATAPOLE_KEY",
        "DATAPOLE_VKEY",
        "DATAPOLE_ADMIN_TOKEN_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.current_dir(dir)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("DATAPOLE_SERVER", &server.base)
        .env("DATAPOLE_VKEY", server.vkey());
    cmd
}

/// Runs the command; its stdout, or a failure with everything it said.
fn ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail; its output.
fn fails(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "{what} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Registers a participant with a new key through the binary: its id; its files are
/// `<name>.pem` and `<name>.json` in `dir`.
fn register(server: &Server, dir: &Path, name: &str, roles: &[&str]) -> String {
    let public = ok(
        datapole(server, dir).args(["keygen", "--participant", "--out", &format!("{name}.pem")]),
        "keygen",
    );
    let mut cmd = datapole(server, dir);
    cmd.args(["participant", "register", "--name", name])
        .args([
            "--public-key",
            public.trim(),
            "--out",
            &format!("{name}.json"),
        ])
        .arg("--admin-token-file")
        .arg(server.data_dir.join("admin-token"));
    for role in roles {
        cmd.args(["--role", role]);
    }
    let id = ok(&mut cmd, "participant register").trim().to_owned();
    assert_eq!(mode(&dir.join(format!("{name}.json"))), 0o600);
    id
}

/// The flags of a participant's signed commands.
fn as_participant<'a>(cmd: &'a mut Command, name: &str) -> &'a mut Command {
    cmd.args([
        "--participant-file",
        &format!("{name}.json"),
        "--key",
        &format!("{name}.pem"),
    ])
}

/// A field of a receipt file, through `datapole receipt show --field`.
fn field(server: &Server, dir: &Path, receipt: &str, name: &str) -> String {
    ok(
        datapole(server, dir).args(["receipt", "show", receipt, "--field", name]),
        "receipt show",
    )
    .trim()
    .to_owned()
}

#[test]
fn every_job_with_the_binary_alone_from_the_templates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = Server::start(&d.join("datapole-data"));

    // The log's key, as the server states it, is the one it signs with.
    let vkey = ok(datapole(&server, d).arg("vkey"), "vkey");
    assert_eq!(vkey.trim(), server.vkey());

    let hospital = register(&server, d, "hospital", &["depositor", "controller"]);
    let lab = register(&server, d, "lab", &["accessor"]);
    let shown = ok(
        datapole(&server, d).args(["participant", "show", &lab]),
        "participant show",
    );
    assert!(
        shown.contains("participant ") && shown.contains(": lab"),
        "{shown}"
    );
    assert!(shown.contains("roles: accessor"), "{shown}");
    let registered = read_json(&d.join("hospital.json"));
    assert_eq!(registered["participant_id"], hospital.as_str());
    assert!(registered["api_token"].as_str().is_some());

    // A private deposit described by the template; its receipt is about these bytes.
    std::fs::write(
        d.join("cohort.csv"),
        "pseudonyme,date,hba1c\nP-8f3a,2025-03-02,7.9\n",
    )
    .unwrap();
    let said = ok(
        as_participant(datapole(&server, d).arg("deposit"), "hospital")
            .args(["cohort.csv", "--quiet", "--payload"])
            .arg(template("deposit.json")),
        "deposit",
    );
    assert!(
        said.contains("receipt saved to cohort.csv.receipt.json"),
        "{said}"
    );
    let dataset = field(&server, d, "cohort.csv.receipt.json", "dataset_id");
    assert_eq!(
        field(&server, d, "cohort.csv.receipt.json", "title"),
        "Cohorte diabète de type 2 en Occitanie : suivi HbA1c, extrait 2025"
    );
    assert_eq!(
        field(&server, d, "cohort.csv.receipt.json", "visibility"),
        "private"
    );
    let verified = ok(
        datapole(&server, d).args(["verify", "cohort.csv.receipt.json", "--file", "cohort.csv"]),
        "verify --file",
    );
    assert!(
        verified.contains("✓ content: cohort.csv is the content of dataset"),
        "{verified}"
    );
    std::fs::write(
        d.join("other.csv"),
        "pseudonyme,date,hba1c\nP-8f3a,2025-03-02,8.9\n",
    )
    .unwrap();
    let out = fails(
        datapole(&server, d).args(["verify", "cohort.csv.receipt.json", "--file", "other.csv"]),
        "verify --file with other bytes",
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("✗ content: other.csv has SHA-256"),
        "{printed}"
    );

    // The consent, from the template with the run's ids.
    let said = ok(
        as_participant(datapole(&server, d).args(["consent", "record"]), "hospital")
            .arg(template("consent.json"))
            .args(["--set", &format!("datasets={dataset}")])
            .args(["--set", &format!("recipients={lab}")])
            .args(["--out", "citizen-receipt.json"]),
        "consent record",
    );
    assert!(
        said.contains("✓ record: the record shown is the signed statement"),
        "{said}"
    );
    assert!(said.contains(" given, entry "), "{said}");
    assert_eq!(mode(&d.join("citizen-receipt.json")), 0o600);
    let consent = field(&server, d, "citizen-receipt.json", "consent_id");
    // The citizen's secret is not listed unless asked for by name.
    let listed = ok(
        datapole(&server, d).args(["receipt", "show", "citizen-receipt.json"]),
        "receipt show",
    );
    assert!(!listed.contains("citizen_secret"), "{listed}");
    assert!(
        listed.contains(&format!("consent_id: {consent}")),
        "{listed}"
    );

    // The lab is permitted.
    let access = |out: &str| {
        let mut cmd = datapole(&server, d);
        as_participant(cmd.args(["access", "request"]), "lab")
            .arg(template("access.json"))
            .args(["--set", &format!("dataset_id={dataset}")])
            .args(["--set", &format!("consent_ids={consent}")])
            .args(["--out", out, "--quiet"]);
        cmd.output().unwrap()
    };
    let permitted = access("access-1.json");
    assert!(permitted.status.success(), "{}", stderr(&permitted));
    let said = String::from_utf8_lossy(&permitted.stdout);
    assert!(said.starts_with("permit: consented, access "), "{said}");
    assert_eq!(field(&server, d, "access-1.json", "decision"), "permit");

    // The citizen reads: the consent and the access, every receipt verified.
    let read = ok(
        datapole(&server, d).args(["consent", "show", "--receipt", "citizen-receipt.json"]),
        "consent show",
    );
    assert!(read.contains("recorded by hospital"), "{read}");
    assert!(read.contains(": given\n"), "{read}");
    assert!(read.contains("permit query by lab (consented)"), "{read}");
    assert!(read.contains("2 receipts verified"), "{read}");

    // The citizen withdraws; the same access is then denied, recorded, exit status 3.
    let said = ok(
        datapole(&server, d).args(["consent", "withdraw", "--receipt", "citizen-receipt.json"]),
        "consent withdraw",
    );
    assert!(
        said.contains(&format!("consent {consent} withdrawn by the subject")),
        "{said}"
    );
    assert!(d.join("citizen-receipt.json.withdrawal.json").exists());
    let denied = access("access-2.json");
    assert_eq!(denied.status.code(), Some(3), "{}", stderr(&denied));
    let said = String::from_utf8_lossy(&denied.stdout);
    assert!(
        said.starts_with("deny: consent_withdrawn, access "),
        "{said}"
    );
    assert_eq!(field(&server, d, "access-2.json", "decision"), "deny");
    let verified = ok(
        datapole(&server, d).args(["verify", "access-2.json"]),
        "verify the denial",
    );
    assert!(verified.contains("valid: "), "{verified}");

    // Withdrawing twice is refused with the server's code; erasing goes on.
    let out = fails(
        datapole(&server, d).args([
            "consent",
            "withdraw",
            "--receipt",
            "citizen-receipt.json",
            "--out",
            "again.json",
        ]),
        "a second withdrawal",
    );
    assert!(
        stderr(&out).contains("already_withdrawn"),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("again.json").exists());
    let said = ok(
        datapole(&server, d).args(["consent", "erase", "--receipt", "citizen-receipt.json"]),
        "consent erase",
    );
    assert!(said.contains("erased by the subject"), "{said}");
    let read = ok(
        datapole(&server, d).args(["consent", "show", "--receipt", "citizen-receipt.json"]),
        "consent show after erasure",
    );
    assert!(read.contains(": erased\n"), "{read}");
    assert!(read.contains("withdrawal by the subject"), "{read}");

    // The controller withdraws a second consent with the signed withdrawal template.
    ok(
        as_participant(datapole(&server, d).args(["consent", "record"]), "hospital")
            .arg(template("consent.json"))
            .args(["--set", &format!("datasets={dataset}")])
            .args(["--set", &format!("recipients={lab}")])
            .args(["--out", "second.json", "--quiet"]),
        "a second consent",
    );
    let second = field(&server, d, "second.json", "consent_id");
    let said = ok(
        as_participant(
            datapole(&server, d).args(["consent", "withdraw"]),
            "hospital",
        )
        .arg("--payload")
        .arg(template("consent-withdrawal.json"))
        .args(["--set", &format!("consent_id={second}"), "--quiet"]),
        "the controller's withdrawal",
    );
    assert!(
        said.contains(&format!("consent {second} withdrawn by the controller")),
        "{said}"
    );
    assert!(d.join(format!("consent-{second}.withdrawal.json")).exists());
    // And erases it: the same payload, signed as an erasure.
    let said = ok(
        as_participant(datapole(&server, d).args(["consent", "erase"]), "hospital")
            .arg("--payload")
            .arg(template("consent-withdrawal.json"))
            .args(["--set", &format!("consent_id={second}")])
            .args(["--set", "reason=fin de l'étude", "--quiet"]),
        "the controller's erasure",
    );
    assert!(
        said.contains(&format!("consent {second} erased by the controller")),
        "{said}"
    );
    // A citizen's receipt that cannot be written is printed rather than lost.
    let out = fails(
        as_participant(datapole(&server, d).args(["consent", "record"]), "hospital")
            .arg(template("consent.json"))
            .args(["--set", &format!("datasets={dataset}")])
            .args(["--set", &format!("recipients={lab}")])
            .args(["--out", "no-such-directory/r.json"]),
        "a citizen's receipt that cannot be written",
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(printed["citizen_secret"].as_str().is_some(), "{printed}");
    assert!(stderr(&out).contains("printed above"), "{}", stderr(&out));
    // A field a receipt does not have is refused with those it has.
    let out = fails(
        datapole(&server, d).args(["receipt", "show", "second.json", "--field", "dataset"]),
        "a field the receipt lacks",
    );
    assert!(
        stderr(&out).contains("it has: consent_id"),
        "{}",
        stderr(&out)
    );

    // A receipt fetched from the log: public for anyone, opened for its owner.
    let index = field(&server, d, "cohort.csv.receipt.json", "index");
    let said = ok(
        datapole(&server, d).args(["receipt", "fetch", &index, "--out", "fetched.json"]),
        "receipt fetch",
    );
    assert!(
        said.contains(&format!("receipt of entry {index}")),
        "{said}"
    );
    assert!(read_json(&d.join("fetched.json"))
        .get("statement")
        .is_none());
    // Without the statement, the entry still names the content, and the check says so.
    let said = ok(
        datapole(&server, d).args(["verify", "fetched.json", "--file", "cohort.csv"]),
        "verify a fetched private receipt",
    );
    assert!(
        said.contains("the depositor's signed statement is not in this receipt"),
        "{said}"
    );
    ok(
        datapole(&server, d)
            .args([
                "receipt",
                "fetch",
                &index,
                "--participant-file",
                "hospital.json",
            ])
            .args(["--out", "opened.json"]),
        "receipt fetch by the owner",
    );
    assert!(read_json(&d.join("opened.json")).get("statement").is_some());
    let proof = ok(
        datapole(&server, d).args(["receipt", "fetch", &index, "--format", "tlog-proof"]),
        "receipt fetch as tlog-proof",
    );
    assert!(proof.starts_with("c2sp.org/tlog-proof@v1\n"), "{proof}");
    std::fs::write(d.join("proof.txt"), &proof).unwrap();
    ok(
        datapole(&server, d).args(["verify", "proof.txt", "--file", "cohort.csv"]),
        "verify a tlog-proof against the bytes",
    );
    // --file is for a deposit's receipt.
    let out = fails(
        datapole(&server, d).args(["verify", "access-1.json", "--file", "cohort.csv"]),
        "verify --file on an access receipt",
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("not a deposit"), "{printed}");
}

#[test]
fn refusals_say_why_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = Server::start(&d.join("datapole-data"));
    let hospital = register(&server, d, "hospital", &["depositor", "controller"]);
    let size = server.size();

    // No admin token where it is looked for: the file is named, nothing is registered.
    let public = ok(
        datapole(&server, d).args(["keygen", "--participant", "--out", "x.pem"]),
        "keygen",
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let out = fails(
        datapole(&server, elsewhere.path()).args([
            "participant",
            "register",
            "--name",
            "X",
            "--role",
            "accessor",
            "--public-key",
            public.trim(),
        ]),
        "register without the admin token",
    );
    assert!(
        stderr(&out).contains("datapole-data/admin-token"),
        "{}",
        stderr(&out)
    );
    // A wrong token: the server's code.
    std::fs::write(d.join("wrong-token"), "not-the-token\n").unwrap();
    let out = fails(
        datapole(&server, d).args([
            "participant",
            "register",
            "--name",
            "X",
            "--role",
            "accessor",
            "--public-key",
            public.trim(),
            "--admin-token-file",
            "wrong-token",
        ]),
        "register with a wrong token",
    );
    assert!(stderr(&out).contains("unauthorized"), "{}", stderr(&out));
    // An --out that exists is refused before anything is sent.
    let out = fails(
        datapole(&server, d)
            .args([
                "participant",
                "register",
                "--name",
                "X",
                "--role",
                "accessor",
            ])
            .args(["--public-key", public.trim(), "--out", "hospital.json"])
            .arg("--admin-token-file")
            .arg(server.data_dir.join("admin-token")),
        "register over an existing file",
    );
    assert!(
        stderr(&out).contains("hospital.json exists"),
        "{}",
        stderr(&out)
    );
    // An unknown role is refused by the command line.
    let out = fails(
        datapole(&server, d).args([
            "participant",
            "register",
            "--name",
            "X",
            "--role",
            "admin",
            "--public-key",
            public.trim(),
        ]),
        "an unknown role",
    );
    assert!(stderr(&out).contains("depositor, controller, accessor and auditor"));
    assert_eq!(server.size(), size);

    // A consent payload with several faults: the code, and every problem the server lists.
    let mut bad: Value = read_json(&template("consent.json"));
    bad["purposes"][0]["code"] = "".into();
    bad["jurisdiction"] = "".into();
    bad["datasets"] = Value::Array(vec![]);
    bad["recipients"] = Value::Array(vec![]);
    std::fs::write(d.join("bad.json"), bad.to_string()).unwrap();
    let out = fails(
        as_participant(datapole(&server, d).args(["consent", "record"]), "hospital").args([
            "bad.json",
            "--out",
            "never.json",
        ]),
        "a consent with faults",
    );
    let said = stderr(&out);
    assert!(said.contains("invalid_field"), "{said}");
    assert!(said.contains("HTTP 422"), "{said}");
    // The same statement, sent by hand, tells what the server listed: each item is printed
    // as `field: message` on its own line, and the message that sums them up is not repeated.
    let key = datapole::cli::client::load_participant_key(&d.join("hospital.pem")).unwrap();
    let mut payload = bad.clone();
    payload["issued_at"] = chrono::Utc::now().to_rfc3339().into();
    payload["nonce"] = common::nonce().into();
    let envelope = datapole::statement::dsse::Envelope::sign(
        datapole::statement::consent::CONSENT_TYPE,
        payload.to_string().as_bytes(),
        &hospital,
        &key,
    );
    let answer = common::post(&server, "/v1/consents", &envelope.to_bytes().unwrap(), None);
    assert_eq!(answer.status, 422);
    let items = answer.json()["error"]["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for item in &items {
        let line = format!(
            "  {}: {}",
            item["field"].as_str().unwrap(),
            item["message"].as_str().unwrap()
        );
        assert!(said.contains(&line), "{line:?} not in {said}");
    }
    assert!(items.len() >= 2, "{}", answer.text());
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!said.contains(&message), "{said}");
    assert!(said.contains("invalid_field (HTTP 422):"), "{said}");
    assert!(!d.join("never.json").exists());
    assert_eq!(server.size(), size);

    // A payload that is not JSON, a --set without `=`: refused before anything is sent.
    std::fs::write(d.join("broken.json"), "{\"a\": 1,").unwrap();
    let out = fails(
        as_participant(
            datapole(&server, d).args(["consent", "record", "broken.json"]),
            "hospital",
        ),
        "a payload that is not JSON",
    );
    assert!(
        stderr(&out).contains("broken.json: not JSON"),
        "{}",
        stderr(&out)
    );
    let out = fails(
        as_participant(datapole(&server, d).args(["access", "request"]), "hospital")
            .arg(template("access.json"))
            .args(["--set", "dataset_id"]),
        "a --set without a value",
    );
    assert!(
        stderr(&out).contains("expected FIELD=VALUE"),
        "{}",
        stderr(&out)
    );
    // A participant without the role: the server's code, nothing recorded.
    let out = fails(
        as_participant(datapole(&server, d).args(["access", "request"]), "hospital")
            .arg(template("access.json")),
        "an access by a controller",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("forbidden_role"), "{}", stderr(&out));
    assert_eq!(server.size(), size);

    // A citizen's receipt with another secret: the server's 401, nothing withdrawn.
    let mut forged = read_json(&template("consent.json"));
    forged = serde_json::json!({
        "consent_id": "0190f1d2-0000-7000-8000-000000000000",
        "citizen_secret": "not-a-secret",
        "record": forged,
    });
    std::fs::write(d.join("forged.json"), forged.to_string()).unwrap();
    for action in ["show", "withdraw"] {
        let out = fails(
            datapole(&server, d).args(["consent", action, "--receipt", "forged.json"]),
            "a forged citizen receipt",
        );
        assert!(stderr(&out).contains("unauthorized"), "{}", stderr(&out));
    }
    // A receipt of another log: the secret is not sent to this one.
    let (_, other_vkey) = datapole::log::LogSigner::generate("other.example.org/log").unwrap();
    let elsewhere_issued = serde_json::json!({
        "consent_id": "0190f1d2-0000-7000-8000-000000000000",
        "citizen_secret": "a-secret",
        "receipt": {"log": {"origin": "other.example.org/log", "vkey": other_vkey}},
    });
    std::fs::write(d.join("other-log.json"), elsewhere_issued.to_string()).unwrap();
    let out = fails(
        datapole(&server, d).args(["consent", "withdraw", "--receipt", "other-log.json"]),
        "a citizen receipt of another log",
    );
    assert!(
        stderr(&out).contains("the citizen's secret is not sent"),
        "{}",
        stderr(&out)
    );
    // A file that is no citizen's receipt is named as such.
    let out = fails(
        datapole(&server, d).args(["consent", "show", "--receipt", "hospital.json"]),
        "a participant file as a citizen receipt",
    );
    assert!(
        stderr(&out).contains("not a citizen's receipt"),
        "{}",
        stderr(&out)
    );
    // Neither --receipt nor --payload.
    fails(
        datapole(&server, d).args(["consent", "erase"]),
        "an erasure of nothing",
    );
    // A participant that is not registered.
    let out = fails(
        datapole(&server, d).args([
            "participant",
            "show",
            "0190f1d2-0000-7000-8000-000000000000",
        ]),
        "an unknown participant",
    );
    assert!(
        stderr(&out).contains("participant_not_found"),
        "{}",
        stderr(&out)
    );
    // A receipt beyond the log.
    let out = fails(
        datapole(&server, d).args(["receipt", "fetch", "999"]),
        "a receipt beyond the log",
    );
    assert!(stderr(&out).contains("entry_not_found"), "{}", stderr(&out));
    assert_eq!(server.size(), size);
}

/// The schema of each template: a payload's, closed (no property it does not declare).
const TEMPLATES: &[(&str, &str)] = &[
    ("deposit.json", "deposit-payload"),
    ("consent.json", "consent-payload"),
    ("access.json", "access-payload"),
    ("consent-withdrawal.json", "consent-action-payload"),
];

/// What the CLI fills in at signing time: the template need not have it.
const FILLED: &[&str] = &["issued_at", "nonce", "sha256", "size"];

/// Sets `additionalProperties: false` on every object schema that lists its properties.
fn close(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

#[test]
fn every_template_fits_its_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(root.join("examples/payloads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut listed: Vec<&str> = TEMPLATES.iter().map(|(t, _)| *t).collect();
    listed.sort();
    assert_eq!(names, listed, "examples/payloads/ and TEMPLATES differ");
    for (name, schema_name) in TEMPLATES {
        let mut schema = read_json(&root.join(format!("schemas/{schema_name}.schema.json")));
        close(&mut schema);
        let payload = read_json(&template(name));
        // The template as written: everything but what the CLI fills in.
        let mut partial = schema.clone();
        let required = partial["required"].as_array_mut().unwrap();
        required.retain(|r| !FILLED.contains(&r.as_str().unwrap()));
        let validator = jsonschema::validator_for(&partial).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&payload)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{name} against {schema_name}: {errors:?}"
        );
        // And once the CLI filled it in, the whole schema.
        let mut full = payload.as_object().unwrap().clone();
        if *name == "deposit.json" {
            full.insert("sha256".into(), "ab".repeat(32).into());
            full.insert("size".into(), 42.into());
        }
        datapole::cli::payload::fill_fresh(&mut full, chrono::Utc::now(), common::nonce());
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&Value::Object(full))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{name} filled, against {schema_name}: {errors:?}"
        );
        // Nothing the CLI fills in is in a template, so that it is never stale.
        for f in FILLED {
            assert!(payload.get(f).is_none(), "{name} has {f}");
        }
    }
}
