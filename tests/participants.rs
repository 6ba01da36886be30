//! Changing a registered participant, against the real server: the operator adds and removes
//! roles and reissues tokens, each a logged `participant_roles` / `participant_token` entry
//! with a receipt that `datapole verify` accepts; a statement needing a removed role is
//! refused until the role is given back; the old token stops working when the reissue is
//! answered, and the new token is on no public entry; every refusal writes nothing; `datapole
//! audit` follows the changes; the `datapole participant` commands do the same jobs.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use base64::prelude::*;
use common::{binary, deposit_payload, leaked, post, register, Participant, Server};
use datapole::statement::deposit::DEPOSIT_TYPE;
use serde_json::{json, Value};
use sha2::Digest;

fn run(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// `POST /v1/participants/{id}/roles` with `body`, as `bearer`.
fn roles(server: &Server, id: &str, body: &Value, bearer: Option<&str>) -> common::Answer {
    post(
        server,
        &format!("/v1/participants/{id}/roles"),
        body.to_string().as_bytes(),
        bearer,
    )
}

/// `POST /v1/participants/{id}/token`, as `bearer`.
fn reissue(server: &Server, id: &str, bearer: Option<&str>) -> common::Answer {
    post(server, &format!("/v1/participants/{id}/token"), b"", bearer)
}

/// A fresh deposit statement by `who`, posted.
fn deposit(server: &Server, who: &Participant, content: &[u8]) -> common::Answer {
    let body = who.sign(DEPOSIT_TYPE, &deposit_payload(content, "public"));
    post(server, "/v1/deposits", &body, None)
}

/// Writes `receipt` to a file and checks it with `datapole verify --vkey`.
fn verify_receipt(dir: &Path, name: &str, receipt: &Value, vkey: &str) {
    let path = dir.join(name);
    std::fs::write(&path, receipt.to_string()).unwrap();
    let out = run(&["verify", path.to_str().unwrap(), "--vkey", vkey]);
    assert!(out.status.success(), "{name}: {}", text(&out));
    assert!(text(&out).contains("inclusion"), "{}", text(&out));
}

fn audit(server: &Server, vkey: &str, state: &Path) -> Output {
    Command::new(binary())
        .args([
            "audit",
            "--log-url",
            &server.base,
            "--vkey",
            vkey,
            "--state-dir",
        ])
        .arg(state)
        .output()
        .unwrap()
}

#[test]
fn roles_change_with_their_entries_and_every_refusal_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let vkey = server.vkey();
    let p = register(&server, &admin, 1, &["depositor"]);
    assert_eq!(deposit(&server, &p, b"first").status, 201);

    // Removing its only role: allowed, and it can then do nothing that needs one.
    let a = roles(
        &server,
        &p.id,
        &json!({"remove": ["depositor"]}),
        Some(&admin),
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let removed = a.json();
    assert_eq!(removed["roles"], json!([]));
    assert_eq!(removed["removed"], json!(["depositor"]));
    assert_eq!(removed["added"], json!([]));
    assert_eq!(removed["seq"], 1);
    let removal = removed["index"].as_u64().unwrap();
    let entry = server.get(&format!("/v1/entries/{removal}")).json()["entry"].clone();
    assert_eq!(entry["type"], "participant_roles");
    assert_eq!(entry["participant"], p.id.as_str());
    assert_eq!(entry["roles"], json!([]));
    let size = server.size();
    deposit(&server, &p, b"second").assert_error(403, "forbidden_role", "after removal");
    assert_eq!(server.size(), size, "a refused deposit wrote nothing");

    // Given back, with another: the deposit goes through.
    let a = roles(
        &server,
        &p.id,
        &json!({"add": ["auditor", "depositor"]}),
        Some(&admin),
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let added = a.json();
    assert_eq!(added["roles"], json!(["depositor", "auditor"]));
    assert_eq!(added["seq"], 2);
    assert_eq!(deposit(&server, &p, b"second").status, 201);

    // The public record shows the roles now and the entries that changed them.
    let view = server.get(&format!("/v1/participants/{}", p.id)).json();
    assert_eq!(view["roles"], json!(["depositor", "auditor"]));
    assert_eq!(view["changes"], json!([removal, added["index"]]));

    // Each change's receipt verifies with the CLI, as answered and as read again.
    verify_receipt(dir.path(), "removal.json", &removed["receipt"], &vkey);
    verify_receipt(dir.path(), "addition.json", &added["receipt"], &vkey);
    let again = server.get(&format!("/v1/receipts/{removal}")).json();
    verify_receipt(dir.path(), "removal-again.json", &again, &vkey);

    // Every refusal, with its code, and nothing written.
    let size = server.size();
    let unknown = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(&str, Value, Option<&str>, u16, &str)> = vec![
        (
            &p.id,
            json!({"add": ["controller"]}),
            None,
            401,
            "unauthorized",
        ),
        (
            &p.id,
            json!({"add": ["controller"]}),
            Some(&p.token),
            401,
            "unauthorized",
        ),
        (
            &unknown,
            json!({"add": ["controller"]}),
            Some(&admin),
            404,
            "participant_not_found",
        ),
        (
            "not-a-uuid",
            json!({"add": ["controller"]}),
            Some(&admin),
            400,
            "invalid_participant_id",
        ),
        (
            &p.id,
            json!({"add": ["administrator"]}),
            Some(&admin),
            422,
            "invalid_field",
        ),
        (
            &p.id,
            json!({"add": ["depositor"]}),
            Some(&admin),
            409,
            "role_already_held",
        ),
        (
            &p.id,
            json!({"add": ["controller", "depositor"]}),
            Some(&admin),
            409,
            "role_already_held",
        ),
        (
            &p.id,
            json!({"remove": ["controller"]}),
            Some(&admin),
            409,
            "role_not_held",
        ),
        (&p.id, json!({}), Some(&admin), 422, "invalid_field"),
        (
            &p.id,
            json!({"add": [], "remove": []}),
            Some(&admin),
            422,
            "invalid_field",
        ),
        (
            &p.id,
            json!({"add": ["controller"], "remove": ["controller"]}),
            Some(&admin),
            422,
            "invalid_field",
        ),
        (
            &p.id,
            json!({"add": ["controller", "controller"]}),
            Some(&admin),
            422,
            "invalid_field",
        ),
        (
            &p.id,
            json!({"grant": ["controller"]}),
            Some(&admin),
            422,
            "invalid_field",
        ),
        (
            &p.id,
            json!(["controller"]),
            Some(&admin),
            422,
            "invalid_field",
        ),
    ];
    for (id, body, bearer, status, code) in cases {
        roles(&server, id, &body, bearer).assert_error(status, code, &format!("{id} {body}"));
    }
    post(
        &server,
        &format!("/v1/participants/{}/roles", p.id),
        b"{\"add\":",
        Some(&admin),
    )
    .assert_error(400, "malformed_json", "not JSON");
    reissue(&server, &unknown, Some(&admin)).assert_error(404, "participant_not_found", "reissue");
    reissue(&server, &p.id, Some(&p.token)).assert_error(401, "unauthorized", "reissue");
    reissue(&server, &p.id, None).assert_error(401, "unauthorized", "reissue");
    let a = server.request("GET", &format!("/v1/participants/{}/roles", p.id), &[], b"");
    a.assert_error(405, "method_not_allowed", "GET roles");
    assert_eq!(server.size(), size, "the refusals wrote nothing");
    let view = server.get(&format!("/v1/participants/{}", p.id)).json();
    assert_eq!(view["roles"], json!(["depositor", "auditor"]));

    // The monitor follows the registry and finds the log sound.
    let out = audit(&server, &vkey, &dir.path().join("audit"));
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("participant_roles: 2"), "{t}");
}

#[test]
fn a_reissued_token_replaces_the_old_one_at_once_and_is_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let vkey = server.vkey();
    let p = register(&server, &admin, 1, &["auditor"]);
    // A participant-authenticated read: the receipt of its own registration.
    let read = |token: &str| common::get(&server, "/v1/receipts/0", token);
    assert_eq!(read(&p.token).status, 200);

    let a = reissue(&server, &p.id, Some(&admin));
    assert_eq!(a.status, 201, "{}", a.text());
    assert_eq!(a.cache_control, "no-store");
    let first = a.json();
    let new = first["api_token"].as_str().unwrap().to_owned();
    assert!(new.starts_with("dpt_") && new != p.token);
    assert_eq!(first["token"], 1);
    assert_eq!(first["seq"], 1);
    read(&p.token).assert_error(401, "unauthorized", "the old token");
    assert_eq!(read(&new).status, 200, "the new token");
    verify_receipt(dir.path(), "reissue.json", &first["receipt"], &vkey);

    // Neither the token nor its hash is on the entry or its receipt.
    let index = first["index"].as_u64().unwrap();
    let entry = server.get(&format!("/v1/entries/{index}")).json();
    assert_eq!(entry["entry"]["type"], "participant_token");
    assert_eq!(entry["entry"]["token"], 1);
    let leaf = BASE64_STANDARD
        .decode(entry["data"].as_str().unwrap())
        .unwrap();
    let hash = sha2::Sha256::digest(new.as_bytes());
    for (what, bytes) in [
        ("entry", leaf.clone()),
        ("receipt", first["receipt"].to_string().into_bytes()),
    ] {
        assert_eq!(
            leaked(&bytes, new.as_bytes()),
            None,
            "the token in the {what}"
        );
        assert_eq!(
            leaked(&bytes, &hash),
            None,
            "the token's hash in the {what}"
        );
    }

    // A second reissue: only the latest token works; roles are untouched.
    let second = reissue(&server, &p.id, Some(&admin)).json();
    let newest = second["api_token"].as_str().unwrap();
    assert_eq!(second["token"], 2);
    read(&new).assert_error(401, "unauthorized", "the first reissued token");
    read(&p.token).assert_error(401, "unauthorized", "the registration's token");
    assert_eq!(read(newest).status, 200);
    let view = server.get(&format!("/v1/participants/{}", p.id)).json();
    assert_eq!(view["roles"], json!(["auditor"]));
    assert_eq!(view["changes"].as_array().unwrap().len(), 2);

    // A restarted server (empty cache) reads the same state from the log.
    let mut server = server;
    server.stop();
    let server = Server::start(&dir.path().join("data"));
    read_with(&server, &p.token, 401);
    read_with(&server, newest, 200);

    let out = audit(&server, &vkey, &dir.path().join("audit"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("participant_token: 2"),
        "{}",
        text(&out)
    );
}

fn read_with(server: &Server, token: &str, status: u16) {
    let a = common::get(server, "/v1/receipts/0", token);
    assert_eq!(a.status, status, "{}", a.text());
}

#[test]
fn the_participant_commands_change_roles_and_reissue_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let vkey = server.vkey();
    let p = register(&server, &admin, 1, &["depositor"]);
    let admin_file = dir.path().join("data").join("admin-token");
    let admin_file = admin_file.to_str().unwrap();
    let common = [
        "--server",
        &server.base,
        "--vkey",
        &vkey,
        "--admin-token-file",
        admin_file,
    ];

    let out = run(&[
        &[
            "participant",
            "roles",
            &p.id,
            "--add",
            "controller",
            "--add",
            "accessor",
            "--remove",
            "depositor",
        ][..],
        &common[..],
    ]
    .concat());
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("✓ checkpoint signature"), "{t}");
    assert!(
        t.contains("added controller, accessor, removed depositor"),
        "{t}"
    );
    assert!(t.contains("its roles now: controller, accessor"), "{t}");
    let view = server.get(&format!("/v1/participants/{}", p.id)).json();
    assert_eq!(view["roles"], json!(["controller", "accessor"]));

    // A refusal is the server's, named; nothing is written.
    let size = server.size();
    let out = run(&[
        &["participant", "roles", &p.id, "--remove", "depositor"][..],
        &common[..],
    ]
    .concat());
    assert!(!out.status.success());
    assert!(text(&out).contains("role_not_held"), "{}", text(&out));
    let out = run(&[
        &["participant", "roles", &p.id, "--add", "admin"][..],
        &common[..],
    ]
    .concat());
    assert!(!out.status.success());
    assert!(text(&out).contains("not a role"), "{}", text(&out));
    assert_eq!(server.size(), size);

    // The new token goes to a private file; the old one stops working.
    let out_file = dir.path().join("token");
    let out = run(&[
        &[
            "participant",
            "reissue-token",
            &p.id,
            "--out",
            out_file.to_str().unwrap(),
        ][..],
        &common[..],
    ]
    .concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("token no. 1 issued"), "{}", text(&out));
    let token = std::fs::read_to_string(&out_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(
        !text(&out).contains(&token),
        "the token is not printed when written to a file"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    read_with(&server, &p.token, 401);
    read_with(&server, &token, 200);
    // An existing token file is not replaced, and nothing is reissued.
    let size = server.size();
    let out = run(&[
        &[
            "participant",
            "reissue-token",
            &p.id,
            "--out",
            out_file.to_str().unwrap(),
        ][..],
        &common[..],
    ]
    .concat());
    assert!(!out.status.success());
    assert_eq!(server.size(), size);
    read_with(&server, &token, 200);

    // A wrong admin token file: the server's 401.
    let wrong = dir.path().join("wrong-admin");
    std::fs::write(&wrong, "dpa_not_the_admin_token_at_all_0123456789\n").unwrap();
    let out = run(&[
        "participant",
        "reissue-token",
        &p.id,
        "--server",
        &server.base,
        "--vkey",
        &vkey,
        "--admin-token-file",
        wrong.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("unauthorized"), "{}", text(&out));
    assert_eq!(server.size(), size);
}

/// `receipt` with its leaf's JSON edited by `edit` (the proof then fails).
fn with_leaf(receipt: &Value, edit: impl Fn(&mut Value)) -> Value {
    let mut r = receipt.clone();
    let leaf = BASE64_STANDARD.decode(r["leaf"].as_str().unwrap()).unwrap();
    let mut entry: Value = serde_json::from_slice(&leaf).unwrap();
    edit(&mut entry);
    r["leaf"] = json!(BASE64_STANDARD.encode(entry.to_string()));
    r
}

#[test]
fn change_receipts_verify_as_a_registration_does_in_rust_and_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let vkey = server.vkey();
    let p = register(&server, &admin, 1, &["depositor"]);
    let changed = roles(&server, &p.id, &json!({"add": ["auditor"]}), Some(&admin)).json();
    let reissued = reissue(&server, &p.id, Some(&admin)).json();
    let registration = server.get("/v1/receipts/0").json();
    let mut docs: Vec<(String, Value)> = vec![
        ("registration".into(), registration.clone()),
        ("roles".into(), changed["receipt"].clone()),
        ("token".into(), reissued["receipt"].clone()),
        (
            "roles read again".into(),
            server
                .get(&format!("/v1/receipts/{}", changed["index"]))
                .json(),
        ),
    ];
    for (kind, receipt) in [
        ("roles", &changed["receipt"]),
        ("token", &reissued["receipt"]),
    ] {
        docs.push((
            format!("{kind}/roles edited"),
            with_leaf(receipt, |e| {
                e["roles"] = json!(["depositor", "controller", "auditor"])
            }),
        ));
        docs.push((
            format!("{kind}/another participant"),
            with_leaf(receipt, |e| {
                e["participant"] = json!(uuid::Uuid::nil().to_string())
            }),
        ));
        let mut r = receipt.clone();
        r["index"] = json!(r["index"].as_u64().unwrap() + 1);
        docs.push((format!("{kind}/index moved"), r));
        let mut r = receipt.clone();
        r["signer"] = json!({"participant_id": p.id, "public_key": BASE64_STANDARD.encode(common::test_key(1))});
        docs.push((format!("{kind}/signer added"), r));
    }
    let rust: Vec<(String, Vec<String>)> = docs
        .iter()
        .map(|(name, doc)| (name.clone(), common::vectors::rust_failed(doc, &vkey)))
        .collect();
    // The valid ones pass, with the same checks as a registration; each tampered one fails.
    let checks = |doc: &Value| -> Vec<String> {
        let (report, _) = datapole::verify::receipt::verify_document(doc, Some(&vkey)).unwrap();
        report.checks.iter().map(|c| c.name.to_owned()).collect()
    };
    for (name, failed) in &rust {
        assert_eq!(failed.is_empty(), !name.contains('/'), "{name}: {failed:?}");
    }
    assert_eq!(checks(&docs[1].1), checks(&registration));
    assert_eq!(checks(&docs[2].1), checks(&registration));

    let file = dir.path().join("vectors.json");
    let json: Vec<Value> = docs
        .iter()
        .map(|(name, doc)| json!({"name": name, "document": doc, "vkey": vkey}))
        .collect();
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let module = dir.path().join("verify.mjs");
    std::fs::copy(format!("{root}/src/web/assets/verify.js"), &module).unwrap();
    let node = Command::new("node")
        .arg(format!("{root}/tests/web/run-verifier.mjs"))
        .arg(&module)
        .arg(&file)
        .arg(format!("{root}/tests/vectors/tlog-reference.json"))
        .output();
    let out = match node {
        Ok(out) => out,
        Err(e) => {
            return common::skip("participants (browser verifier)", &format!("no node ({e})"))
        }
    };
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (name, failed) in &rust {
        let js: Vec<String> = answer["receipts"][name]["failed"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {answer}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(&js, failed, "{name}: JavaScript and Rust disagree");
    }
}
