//! The race between an access decision and the end of a consent it relies on, made
//! deterministic with the server's test hooks (the `test-hooks` feature, `DATAPOLE_TEST_HOOKS`,
//! src/ledger/test_hooks.rs): a permit, once decided, is held before it is appended until the
//! citizen's withdrawal or erasure has been sequenced and published. The sequencer must then
//! refuse the permit (its precondition: the consent not ended), the handler must decide again
//! and deny; and when every decision keeps losing (a view that lags behind the store), it must
//! give up after 8 attempts without recording a permit.

mod common;

use common::post;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{nonce, register, Participant, Server};
use datapole::statement::access::ACCESS_TYPE;
use datapole::statement::consent::CONSENT_TYPE;
use datapole::statement::deposit::DEPOSIT_TYPE;
use serde_json::{json, Value};

struct World {
    server: Server,
    lab: Participant,
    dataset: String,
    consent: String,
    secret: String,
    hooks: tempfile::TempDir,
}

fn world(dir: &Path) -> World {
    let hooks = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &dir.join("data"),
        &[],
        &[("DATAPOLE_TEST_HOOKS", hooks.path().to_str().unwrap())],
    );
    let admin = server.admin_token();
    let chu = register(&server, &admin, 1, &["controller", "depositor"]);
    let lab = register(&server, &admin, 2, &["accessor"]);
    let deposit = common::deposit_payload(b"cohort", "private");
    let a = post(
        &server,
        "/v1/deposits",
        &chu.sign(DEPOSIT_TYPE, &deposit),
        None,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let dataset = a.json()["dataset_id"].as_str().unwrap().to_owned();
    let consent = common::consent_payload(&dataset, &lab.id);
    let a = post(
        &server,
        "/v1/consents",
        &chu.sign(CONSENT_TYPE, &consent),
        None,
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let v = a.json();
    World {
        server,
        lab,
        dataset,
        consent: v["consent_id"].as_str().unwrap().to_owned(),
        secret: v["citizen_secret"].as_str().unwrap().to_owned(),
        hooks,
    }
}

impl World {
    fn access_body(&self) -> Vec<u8> {
        let p = json!({"dataset_id": self.dataset, "action": "query",
            "purpose": {"code": "cohort-2027"}, "legal_basis": "consent",
            "consent_ids": [self.consent], "issued_at": chrono::Utc::now().to_rfc3339(),
            "nonce": nonce()});
        self.lab.sign(ACCESS_TYPE, &p)
    }

    fn hook(&self, name: &str) -> std::path::PathBuf {
        self.hooks.path().join(name)
    }

    /// Waits for the server to say it holds a permit's attempt `attempt` (a liveness
    /// deadline: the hold comes within milliseconds).
    fn wait_held(&self, attempt: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.hook(&format!("held-{attempt}")).exists() {
            assert!(Instant::now() < deadline, "no permit was held");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The sequencer's count of appends refused at sequencing.
    fn refused(&self) -> u64 {
        let text = self.server.get("/metrics").text();
        text.lines()
            .find_map(|l| l.strip_prefix("datapole_sequencer_refused_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .unwrap_or_else(|| panic!("no refused counter in\n{text}"))
    }

    fn accesses(&self) -> Vec<Value> {
        let a = self.server.request(
            "GET",
            &format!("/v1/consents/{}/accesses", self.consent),
            &[("authorization", &format!("Bearer {}", self.secret))],
            b"",
        );
        assert_eq!(a.status, 200, "{}", a.text());
        a.json()["accesses"].as_array().unwrap().clone()
    }

    /// Ends the consent as the citizen (`withdraw` or `erase`); the event's index.
    fn end(&self, action: &str) -> u64 {
        let a = post(
            &self.server,
            &format!("/v1/consents/{}/{action}", self.consent),
            b"",
            Some(&self.secret),
        );
        assert_eq!(a.status, 201, "{}", a.text());
        a.json()["index"].as_u64().unwrap()
    }
}

/// A permit decided while the consent was in force, then held while the citizen ends it: the
/// permit must not be appended; the decision is taken again and denies.
fn a_held_permit_loses_to(action: &str, reason: &str) {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    std::fs::write(w.hook("hold"), b"").unwrap();
    let refused_before = w.refused();
    let body = w.access_body();
    let (answer, ended) = std::thread::scope(|s| {
        let access = s.spawn(|| post(&w.server, "/v1/accesses", &body, None));
        w.wait_held(1);
        let ended = w.end(action);
        std::fs::write(w.hook("release"), b"").unwrap();
        (access.join().unwrap(), ended)
    });
    assert_eq!(answer.status, 403, "{}", answer.text());
    let v = answer.json();
    assert_eq!(v["reason"], reason, "{v}");
    assert_eq!(v["error"]["code"], reason);
    assert!(v["index"].as_u64().unwrap() > ended);
    // Decided twice: the second attempt saw the consent's end.
    assert!(w.hook("held-1").exists());
    assert!(!w.hook("held-2").exists(), "a deny is never held");
    assert_eq!(
        w.refused(),
        refused_before + 1,
        "the permit was refused once"
    );
    if action == "withdraw" {
        // One access on the log for it, the denial, after the withdrawal.
        let accesses = w.accesses();
        assert_eq!(accesses.len(), 1, "{accesses:?}");
        assert_eq!(accesses[0]["decision"], "deny");
        assert_eq!(accesses[0]["reason"], reason);
    }
}

#[test]
fn a_permit_held_across_a_withdrawal_is_refused_and_decided_again() {
    a_held_permit_loses_to("withdraw", "consent_withdrawn");
}

#[test]
fn a_permit_held_across_an_erasure_is_refused_and_decided_again() {
    a_held_permit_loses_to("erase", "consent_erased");
}

#[test]
fn decisions_that_keep_losing_give_up_without_a_permit() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    std::fs::write(w.hook("hold"), b"").unwrap();
    // Every attempt decides on the view of the first: the withdrawal stays unseen.
    std::fs::write(w.hook("pin-view"), b"").unwrap();
    let refused_before = w.refused();
    let size_before = w.server.size();
    let body = w.access_body();
    let answer = std::thread::scope(|s| {
        let access = s.spawn(|| post(&w.server, "/v1/accesses", &body, None));
        w.wait_held(1);
        w.end("withdraw");
        std::fs::write(w.hook("release"), b"").unwrap();
        access.join().unwrap()
    });
    answer.assert_error(409, "conflict", "decisions that keep losing");
    assert!(answer.text().contains("keep changing"), "{}", answer.text());
    // Eight decisions, eight refusals, and then nothing more.
    assert!(w.hook("held-8").exists());
    assert!(!w.hook("held-9").exists());
    assert_eq!(w.refused(), refused_before + 8);
    assert_eq!(w.server.size(), size_before + 1, "only the withdrawal");
    assert!(w.accesses().is_empty());
    // The statement was never recorded: its nonce is still unused, and the same statement,
    // sent again with the hooks off, is decided (and denied: the consent was withdrawn).
    std::fs::remove_file(w.hook("pin-view")).unwrap();
    std::fs::remove_file(w.hook("hold")).unwrap();
    let again = post(&w.server, "/v1/accesses", &body, None);
    assert_eq!(again.status, 403, "{}", again.text());
    assert_eq!(again.json()["reason"], "consent_withdrawn");
}
