//! Every rejection path: the precise status and error code, a JSON error body, and a log that
//! is unchanged afterwards (same signed checkpoint, same size).

mod common;

use base64::prelude::*;
use common::{test_key, Server};
use serde_json::json;

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: &str,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
        status,
        code,
    }
}

fn with_json(mut c: Case, token: Option<&str>, body: impl Into<Vec<u8>>) -> Case {
    c.headers.push(("content-type", "application/json".into()));
    if let Some(t) = token {
        c.headers.push(("authorization", format!("Bearer {t}")));
    }
    c.body = body.into();
    c
}

fn registration(name: &str, roles: serde_json::Value, key: &str) -> Vec<u8> {
    json!({"name": name, "roles": roles, "public_key": key})
        .to_string()
        .into_bytes()
}

#[test]
fn bad_requests_get_precise_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let token = server.admin_token();
    // A few entries, so that ranges have something to be out of.
    for i in 0..3 {
        assert_eq!(
            server
                .register(&token, "Org", &["depositor"], &test_key(i))
                .status,
            201
        );
    }
    let good_key = BASE64_STANDARD.encode(test_key(100));
    let taken_key = BASE64_STANDARD.encode(test_key(1));
    let weak_key = BASE64_STANDARD.encode({
        let mut k = [0u8; 32];
        k[0] = 1; // the identity point: small order
        k
    });
    let good = registration("Org", json!(["depositor"]), &good_key);
    let t = Some(token.as_str());
    let p = "/v1/participants";

    let mut cases = vec![
        // Authorisation.
        with_json(
            case("no token", "POST", p, 401, "unauthorized"),
            None,
            good.clone(),
        ),
        with_json(
            case("wrong token", "POST", p, 401, "unauthorized"),
            Some("dpa_wrong"),
            good.clone(),
        ),
        with_json(
            case(
                "participant token is not admin",
                "POST",
                p,
                401,
                "unauthorized",
            ),
            Some("dpt_x"),
            good.clone(),
        ),
        {
            let mut c = with_json(
                case("basic auth", "POST", p, 401, "unauthorized"),
                None,
                good.clone(),
            );
            c.headers.push(("authorization", format!("Basic {token}")));
            c
        },
        // Bodies.
        with_json(
            case("not JSON", "POST", p, 400, "malformed_json"),
            t,
            "{\"name\": ",
        ),
        with_json(case("empty body", "POST", p, 400, "malformed_json"), t, ""),
        with_json(case("JSON array", "POST", p, 422, "invalid_field"), t, "[]"),
        with_json(
            case("fields as a JSON array", "POST", p, 422, "invalid_field"),
            t,
            json!(["Org", ["auditor"], good_key]).to_string(),
        ),
        with_json(
            case("JSON string", "POST", p, 422, "invalid_field"),
            t,
            "\"Org\"",
        ),
        with_json(
            case("roles not a list", "POST", p, 422, "invalid_field"),
            t,
            registration("Org", json!("depositor"), &good_key),
        ),
        with_json(
            case("unknown role", "POST", p, 422, "invalid_field"),
            t,
            registration("Org", json!(["king"]), &good_key),
        ),
        with_json(
            case("no roles", "POST", p, 422, "invalid_field"),
            t,
            registration("Org", json!([]), &good_key),
        ),
        with_json(
            case("repeated role", "POST", p, 422, "invalid_field"),
            t,
            registration("Org", json!(["auditor", "auditor"]), &good_key),
        ),
        with_json(
            case("empty name", "POST", p, 422, "invalid_field"),
            t,
            registration("  ", json!(["auditor"]), &good_key),
        ),
        with_json(
            case("long name", "POST", p, 422, "invalid_field"),
            t,
            registration(&"n".repeat(201), json!(["auditor"]), &good_key),
        ),
        with_json(
            case("control char in name", "POST", p, 422, "invalid_field"),
            t,
            registration("a\u{0}b", json!(["auditor"]), &good_key),
        ),
        with_json(
            case("missing key", "POST", p, 422, "invalid_field"),
            t,
            json!({"name": "Org", "roles": ["auditor"]}).to_string(),
        ),
        with_json(
            case("unknown field", "POST", p, 422, "invalid_field"),
            t,
            json!({"name": "Org", "roles": ["auditor"], "public_key": good_key, "admin": true})
                .to_string(),
        ),
        with_json(
            case("name is a number", "POST", p, 422, "invalid_field"),
            t,
            json!({"name": 5, "roles": ["auditor"], "public_key": good_key}).to_string(),
        ),
        with_json(
            case("key not base64", "POST", p, 422, "invalid_field"),
            t,
            registration("Org", json!(["auditor"]), "not*base64"),
        ),
        with_json(
            case("key 31 bytes", "POST", p, 422, "invalid_field"),
            t,
            registration(
                "Org",
                json!(["auditor"]),
                &BASE64_STANDARD.encode([5u8; 31]),
            ),
        ),
        with_json(
            case("weak key", "POST", p, 422, "invalid_field"),
            t,
            registration("Org", json!(["auditor"]), &weak_key),
        ),
        with_json(
            case("duplicate key", "POST", p, 409, "duplicate_key"),
            t,
            registration("Org", json!(["auditor"]), &taken_key),
        ),
        with_json(
            case("oversized body", "POST", p, 413, "payload_too_large"),
            t,
            registration(&"n".repeat(100_000), json!(["auditor"]), &good_key),
        ),
        {
            let mut c = case(
                "wrong content type",
                "POST",
                p,
                415,
                "unsupported_media_type",
            );
            c.headers = vec![
                ("content-type", "text/plain".into()),
                ("authorization", format!("Bearer {token}")),
            ];
            c.body = good.clone();
            c
        },
        // Participants.
        case(
            "participant id not a UUID",
            "GET",
            "/v1/participants/abc",
            400,
            "invalid_participant_id",
        ),
        case(
            "unknown participant",
            "GET",
            "/v1/participants/6f1c3a9e-0000-4000-8000-000000000000",
            404,
            "participant_not_found",
        ),
        case("GET on the collection", "GET", p, 405, "method_not_allowed"),
        // Entries.
        case(
            "entry beyond the log",
            "GET",
            "/v1/entries/3",
            404,
            "entry_not_found",
        ),
        case(
            "entry index not a number",
            "GET",
            "/v1/entries/abc",
            400,
            "invalid_index",
        ),
        case(
            "negative entry index",
            "GET",
            "/v1/entries/-1",
            400,
            "invalid_index",
        ),
        case(
            "huge entry index",
            "GET",
            "/v1/entries/99999999999999999999999",
            400,
            "invalid_index",
        ),
        // Inclusion proofs.
        case(
            "index out of range",
            "GET",
            "/v1/proofs/inclusion?index=3",
            400,
            "index_out_of_range",
        ),
        case(
            "index beyond tree_size",
            "GET",
            "/v1/proofs/inclusion?index=2&tree_size=2",
            400,
            "index_out_of_range",
        ),
        case(
            "tree_size beyond the log",
            "GET",
            "/v1/proofs/inclusion?index=0&tree_size=4",
            400,
            "tree_size_beyond_log",
        ),
        case(
            "index not a number",
            "GET",
            "/v1/proofs/inclusion?index=x",
            400,
            "invalid_query",
        ),
        case(
            "both index and leaf_hash",
            "GET",
            "/v1/proofs/inclusion?index=0&leaf_hash=AAAA",
            400,
            "invalid_query",
        ),
        case(
            "neither index nor leaf_hash",
            "GET",
            "/v1/proofs/inclusion",
            400,
            "invalid_query",
        ),
        case(
            "unknown parameter",
            "GET",
            "/v1/proofs/inclusion?index=0&size=3",
            400,
            "invalid_query",
        ),
        case(
            "repeated parameter",
            "GET",
            "/v1/proofs/inclusion?index=0&index=1",
            400,
            "invalid_query",
        ),
        case(
            "leaf_hash bad base64",
            "GET",
            "/v1/proofs/inclusion?leaf_hash=%21%21",
            400,
            "bad_base64",
        ),
        case(
            "leaf_hash 3 bytes",
            "GET",
            "/v1/proofs/inclusion?leaf_hash=AAAA",
            400,
            "bad_hash",
        ),
        case(
            "unknown leaf_hash",
            "GET",
            &format!(
                "/v1/proofs/inclusion?leaf_hash={}",
                common::q(&BASE64_STANDARD.encode([7u8; 32]))
            ),
            404,
            "leaf_not_found",
        ),
        // Consistency proofs.
        case(
            "from > to",
            "GET",
            "/v1/proofs/consistency?from=3&to=2",
            400,
            "invalid_range",
        ),
        case(
            "from = 0",
            "GET",
            "/v1/proofs/consistency?from=0&to=2",
            400,
            "invalid_range",
        ),
        case(
            "to beyond the log",
            "GET",
            "/v1/proofs/consistency?from=1&to=9",
            400,
            "tree_size_beyond_log",
        ),
        case(
            "missing to",
            "GET",
            "/v1/proofs/consistency?from=1",
            400,
            "invalid_query",
        ),
        case(
            "from not a number",
            "GET",
            "/v1/proofs/consistency?from=a&to=2",
            400,
            "invalid_query",
        ),
        // Tiles.
        case(
            "tile path malformed",
            "GET",
            "/tile/0/1",
            400,
            "bad_tile_path",
        ),
        case(
            "tile level too high",
            "GET",
            "/tile/9/000",
            400,
            "bad_tile_path",
        ),
        case(
            "tile width 0",
            "GET",
            "/tile/0/000.p/0",
            400,
            "bad_tile_path",
        ),
        case(
            "non-canonical tile index",
            "GET",
            "/tile/0/x000/000",
            400,
            "bad_tile_path",
        ),
        case(
            "full tile not there yet",
            "GET",
            "/tile/0/000",
            404,
            "tile_not_found",
        ),
        case(
            "partial wider than the tree",
            "GET",
            "/tile/0/000.p/4",
            404,
            "tile_not_found",
        ),
        case(
            "bundle not there yet",
            "GET",
            "/tile/entries/001.p/1",
            404,
            "tile_not_found",
        ),
        case(
            "level-1 tile not there yet",
            "GET",
            "/tile/1/000.p/1",
            404,
            "tile_not_found",
        ),
        // Routing.
        case("unknown path", "GET", "/v2/nothing", 404, "not_found"),
        case(
            "POST on the checkpoint",
            "POST",
            "/checkpoint",
            405,
            "method_not_allowed",
        ),
        case(
            "DELETE an entry",
            "DELETE",
            "/v1/entries/0",
            405,
            "method_not_allowed",
        ),
    ];

    // The whole store, raw, before and after every refusal: nothing at all may be written.
    server.stop();
    let stored = common::store_contents(&data);
    server = Server::start(&data);
    let before = server.checkpoint();
    let size = server.size();
    assert_eq!(size, 3);
    for c in cases.drain(..) {
        let headers: Vec<(&str, &str)> = c.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = server.request(c.method, &c.path, &headers, &c.body);
        a.assert_error(c.status, c.code, c.what);
        if c.status == 405 {
            let want = if c.path == p { "POST" } else { "GET, HEAD" };
            assert_eq!(a.allow, want, "{}: Allow header", c.what);
        }
        assert_eq!(server.checkpoint(), before, "{}: the log changed", c.what);
        assert_eq!(server.size(), size, "{}: the size changed", c.what);
    }
    server.stop();
    common::assert_same_store(&stored, &common::store_contents(&data), "refused requests");
    server = Server::start(&data);
    // The key refused as weak or duplicate was not indexed either: a fresh key still works.
    assert_eq!(
        server
            .register(&token, "Org", &["auditor"], &test_key(100))
            .status,
        201
    );
}

#[test]
fn concurrent_registrations_of_one_key_admit_exactly_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let token = server.admin_token();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let server = &server;
                let token = &token;
                s.spawn(move || {
                    server
                        .register(token, &format!("Twin {i}"), &["auditor"], &test_key(42))
                        .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(server.size(), 1);
}
