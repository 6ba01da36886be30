//! Every listing is one page: capped (1,000 by default and at most, `limit` to ask for fewer),
//! resumed with `after` by a seek in the index, never the whole list. A dataset of more than
//! a thousand versions is the case that made `GET /v1/datasets/{id}` grow without bound.

mod common;

use common::{nonce, register, sha_hex, Participant, Server};
use datapole::statement::access::ACCESS_TYPE;
use datapole::statement::consent::CONSENT_TYPE;
use datapole::statement::deposit::DEPOSIT_TYPE;
use serde_json::{json, Value};

fn post(server: &Server, path: &str, body: &[u8]) -> common::Answer {
    server.request("POST", path, &[("content-type", "application/json")], body)
}

fn get(server: &Server, path: &str, bearer: &str) -> Value {
    let a = server.request(
        "GET",
        path,
        &[("authorization", &format!("Bearer {bearer}"))],
        b"",
    );
    assert_eq!(a.status, 200, "{path}: {}", a.text());
    a.json()
}

/// Deposits `content` as a new dataset, or as a new version of `dataset`: (dataset, index).
fn deposit(
    server: &Server,
    who: &Participant,
    content: &[u8],
    dataset: Option<&str>,
) -> (String, u64) {
    let mut p = common::deposit_payload(content, "public");
    if let Some(d) = dataset {
        p["dataset_id"] = json!(d);
    }
    let a = post(server, "/v1/deposits", &who.sign(DEPOSIT_TYPE, &p));
    assert_eq!(a.status, 201, "{}", a.text());
    let v = a.json();
    (
        v["dataset_id"].as_str().unwrap().to_owned(),
        v["index"].as_u64().unwrap(),
    )
}

/// The values of `field` in the items of `list`.
fn column(v: &Value, list: &str, field: &str) -> Vec<u64> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {v}"))
        .iter()
        .map(|i| i[field].as_u64().unwrap())
        .collect()
}

#[test]
fn a_dataset_of_a_thousand_versions_is_read_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let chu = register(&server, &admin, 1, &["depositor"]);
    let (dataset, _) = deposit(&server, &chu, b"version 1", None);
    const VERSIONS: u64 = 1005;
    for v in 2..=VERSIONS {
        deposit(
            &server,
            &chu,
            format!("version {v}").as_bytes(),
            Some(&dataset),
        );
    }
    let path = format!("/v1/datasets/{dataset}");

    // The default page: the first 1,000 versions, and there are more.
    let first = server.get(&path).json();
    let versions = column(&first, "versions", "version");
    assert_eq!(versions, (1..=1000).collect::<Vec<_>>());
    assert_eq!(first["truncated"], true);
    assert_eq!(first["controller"], json!(chu.id));
    // The next page starts after the last version listed.
    let next = server.get(&format!("{path}?after=1000")).json();
    assert_eq!(
        column(&next, "versions", "version"),
        (1001..=VERSIONS).collect::<Vec<_>>()
    );
    assert_eq!(next["truncated"], false);
    // Any page size up to the cap, from anywhere.
    let page = server.get(&format!("{path}?after=17&limit=3")).json();
    assert_eq!(column(&page, "versions", "version"), [18, 19, 20]);
    assert_eq!(page["truncated"], true);
    let past = server.get(&format!("{path}?after={VERSIONS}")).json();
    assert_eq!(column(&past, "versions", "version"), Vec::<u64>::new());
    assert_eq!(past["truncated"], false);
    // Out-of-range page sizes and unknown parameters are refused.
    for bad in ["limit=0", "limit=1001", "limit=-1", "after=x", "offset=3"] {
        server
            .get(&format!("{path}?{bad}"))
            .assert_error(400, "invalid_query", bad);
    }
    // A new version still finds its number in one seek.
    let (_, _) = deposit(&server, &chu, b"version 1006", Some(&dataset));
    let last = server.get(&format!("{path}?after=1005")).json();
    assert_eq!(column(&last, "versions", "version"), [1006]);
}

#[test]
fn searches_and_consent_listings_are_paged_by_seek() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let admin = server.admin_token();
    let chu = register(&server, &admin, 1, &["controller", "depositor"]);
    let lab = register(&server, &admin, 2, &["accessor"]);
    let auditor = register(&server, &admin, 3, &["auditor"]);

    // One content in five datasets: five deposits to find.
    let content = b"the same extract";
    let mut indexes = Vec::new();
    let (dataset, index) = deposit(&server, &chu, content, None);
    indexes.push(index);
    for k in 0..4 {
        let (other, _) = deposit(&server, &chu, format!("other {k}").as_bytes(), None);
        indexes.push(deposit(&server, &chu, content, Some(&other)).1);
    }
    let search = format!("/v1/deposits?sha256={}", sha_hex(content));
    let all = server.get(&search).json();
    assert_eq!(column(&all, "deposits", "index"), indexes);
    assert_eq!(all["truncated"], false);
    let page = server.get(&format!("{search}&limit=2")).json();
    assert_eq!(column(&page, "deposits", "index"), indexes[..2]);
    assert_eq!(page["truncated"], true);
    let page = server
        .get(&format!("{search}&limit=2&after={}", indexes[1]))
        .json();
    assert_eq!(column(&page, "deposits", "index"), indexes[2..4]);
    let page = server.get(&format!("{search}&after={}", indexes[3])).json();
    assert_eq!(column(&page, "deposits", "index"), indexes[4..]);
    assert_eq!(page["truncated"], false);
    server.get(&format!("{search}&limit=1001")).assert_error(
        400,
        "invalid_query",
        "limit over the cap",
    );

    // Seven consents, and seven accesses citing the first.
    let mut consents = Vec::new();
    for _ in 0..7 {
        let p = common::consent_payload(&dataset, &lab.id);
        let a = post(&server, "/v1/consents", &chu.sign(CONSENT_TYPE, &p));
        assert_eq!(a.status, 201, "{}", a.text());
        consents.push(a.json());
    }
    let consent_indexes: Vec<u64> = consents
        .iter()
        .map(|c| c["index"].as_u64().unwrap())
        .collect();
    let listing = format!("/v1/consents?controller={}", chu.id);
    let page = get(&server, &format!("{listing}&limit=3"), &chu.token);
    assert_eq!(column(&page, "consents", "index"), consent_indexes[..3]);
    assert_eq!(page["truncated"], true);
    let page = get(
        &server,
        &format!("{listing}&limit=3&after={}", consent_indexes[2]),
        &auditor.token,
    );
    assert_eq!(column(&page, "consents", "index"), consent_indexes[3..6]);
    let page = get(
        &server,
        &format!("{listing}&after={}", consent_indexes[5]),
        &chu.token,
    );
    assert_eq!(column(&page, "consents", "index"), consent_indexes[6..]);
    assert_eq!(page["truncated"], false);

    let first = consents[0]["consent_id"].as_str().unwrap();
    let secret = consents[0]["citizen_secret"].as_str().unwrap();
    let mut access_indexes = Vec::new();
    for _ in 0..7 {
        let p = json!({"dataset_id": dataset, "action": "query",
            "purpose": {"code": "cohort-2027"}, "legal_basis": "consent",
            "consent_ids": [first], "issued_at": chrono::Utc::now().to_rfc3339(),
            "nonce": nonce()});
        let a = post(&server, "/v1/accesses", &lab.sign(ACCESS_TYPE, &p));
        assert_eq!(a.status, 201, "{}", a.text());
        access_indexes.push(a.json()["index"].as_u64().unwrap());
    }
    let accesses = format!("/v1/consents/{first}/accesses");
    let page = get(&server, &format!("{accesses}?limit=4"), secret);
    assert_eq!(column(&page, "accesses", "index"), access_indexes[..4]);
    assert_eq!(page["truncated"], true);
    let page = get(
        &server,
        &format!("{accesses}?limit=4&after={}", access_indexes[3]),
        secret,
    );
    assert_eq!(column(&page, "accesses", "index"), access_indexes[4..]);
    assert_eq!(page["truncated"], false);
    server
        .request(
            "GET",
            &format!("{accesses}?limit=0"),
            &[("authorization", &format!("Bearer {secret}"))],
            b"",
        )
        .assert_error(400, "invalid_query", "limit 0");
}
