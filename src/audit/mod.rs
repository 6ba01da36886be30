//! The monitor's rules, as pure functions over plain data: what a checked log has shown so
//! far (its verified checkpoint, the right edge of its tree, the key history of its
//! participants) and the checks every new entry must pass. `datapole audit` (in `cli/`)
//! downloads; this module judges.

use std::collections::BTreeMap;

use base64::prelude::*;
use serde::{Deserialize, Serialize};

use crate::consent::RecordKind;
use crate::custody::CustodyLeaf;
use crate::entry::{Entry, EntryError};
use crate::json::JsonError;
use crate::participant::{parse_public_key, ChangeProblem, ParticipantState, PublicKeyError, Role};
use crate::statement::deposit::{DepositPayload, Visibility, DEPOSIT_TYPE};
use crate::statement::dsse::DsseError;
use crate::verify::Frontier;

/// A key a participant was registered with and the roles it held, from which entry on: its
/// registration, then one record per change of it (`participant_roles`, `participant_token`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The registration's or change's entry index.
    pub index: u64,
    /// The Ed25519 key, standard base64.
    pub public_key: String,
    /// The roles held from this entry on.
    pub roles: Vec<Role>,
    /// The number of the latest change (0: the registration).
    #[serde(default)]
    pub seq: u64,
    /// The number of the participant's current token (0: the registration's).
    #[serde(default)]
    pub token: u64,
}

/// A problem the monitor found in an entry. Its Display is what `datapole audit` reports
/// after the entry's index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    /// Not an entry of any format (not JSON, no type, an unknown type).
    #[error("{0}")]
    Unreadable(EntryError),
    /// An entry of this format (`participant`, `deposit`, `record`) in another version or
    /// shape; the report names the format only.
    #[error("malformed {kind} entry")]
    Malformed {
        /// The format its `type` names.
        kind: &'static str,
    },
    /// A registration whose key is not a key a participant may hold.
    #[error("public_key {0}")]
    ParticipantKey(PublicKeyError),
    /// A second registration of a participant id.
    #[error("participant {id} registered twice")]
    RegisteredTwice {
        /// The participant id.
        id: String,
    },
    /// A registration with a key already registered to another participant.
    #[error("its key is already registered to participant {owner}")]
    KeyTaken {
        /// The participant the key is registered to.
        owner: String,
    },
    /// An entry whose issuer was not registered by an earlier entry.
    #[error("{who} {id} was not registered before")]
    NotRegistered {
        /// What the entry names the participant: `depositor` or `issuer`.
        who: &'static str,
        /// The participant id.
        id: String,
    },
    /// A deposit by a participant without the depositor role.
    #[error("participant {id} has no depositor role")]
    NotDepositor {
        /// The participant id.
        id: String,
    },
    /// A record by a participant without the role it calls for.
    #[error("participant {id} lacks the {} role", role.as_str())]
    LacksRole {
        /// The participant id.
        id: String,
        /// The role needed.
        role: Role,
    },
    /// A change of a participant that does not follow its registration and earlier changes.
    #[error("change of participant {id}: {problem}")]
    Change {
        /// The participant id.
        id: String,
        /// What does not follow.
        problem: ChangeProblem,
    },
    /// A public deposit's statement of another payload type.
    #[error("statement of type {0:?}")]
    StatementType(String),
    /// A public deposit's statement whose keyid is not the depositor.
    #[error("statement keyid is not the depositor")]
    KeyidNotDepositor,
    /// The depositor's registered key is not a key a participant may hold.
    #[error("depositor key {0}")]
    DepositorKey(PublicKeyError),
    /// A public deposit's statement whose envelope does not verify with the depositor's key.
    #[error("statement: {0}")]
    Signature(DsseError),
    /// A public deposit's signed payload that is not a deposit statement.
    #[error("{}", .0.at("statement payload"))]
    Payload(JsonError),
    /// A public deposit whose signed statement describes another content.
    #[error("the signed statement does not describe the entry")]
    StatementMismatch,
    /// A deposit whose visibility, statement and commitment do not go together.
    #[error("visibility, statement and commitment do not agree")]
    Visibility,
    /// A record whose commitment is not a lower-case hex SHA-256.
    #[error("commitment is not a lower-case hex SHA-256")]
    Commitment,
    /// A record whose time is not an RFC 3339 time.
    #[error("time is not an RFC 3339 time")]
    Time,
    /// A custody entry that breaks its format's rules or its object's chain.
    #[error("custody: {0}")]
    Custody(String),
}

impl From<EntryError> for EntryProblem {
    fn from(e: EntryError) -> Self {
        match e {
            EntryError::Malformed { kind, .. } => EntryProblem::Malformed { kind },
            e => EntryProblem::Unreadable(e),
        }
    }
}

/// What the monitor keeps between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditState {
    /// The log's verifier key.
    pub vkey: String,
    /// The last verified checkpoint (signed note).
    pub checkpoint: String,
    /// The tree's right edge at that checkpoint, recomputed from the entries.
    pub frontier: Frontier,
    /// Participants' keys, by participant id.
    pub keys: BTreeMap<String, Vec<KeyRecord>>,
    /// Which participant each registered key belongs to.
    pub key_owners: BTreeMap<String, String>,
    /// Entries checked, by type.
    pub counts: BTreeMap<String, u64>,
    /// The archived objects seen, by object id: what each custody entry is checked against.
    #[serde(default)]
    pub objects: BTreeMap<String, ObjectState>,
}

/// What the monitor knows of one archived object from its custody entries so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectState {
    /// Its storage entry's index.
    pub storage: u64,
    /// The dataset.
    pub dataset_id: String,
    /// Its version.
    pub version: u64,
    /// Its locations.
    pub locations: Vec<String>,
    /// Its retention end (RFC 3339), if any.
    pub retain_until: Option<String>,
    /// Under a legal hold.
    pub held: bool,
    /// Disposed of (at this entry).
    pub disposed: Option<u64>,
}

impl AuditState {
    /// A state for a log never audited.
    pub fn new(vkey: &str) -> Self {
        Self {
            vkey: vkey.to_owned(),
            checkpoint: String::new(),
            frontier: Frontier::default(),
            keys: BTreeMap::new(),
            key_owners: BTreeMap::new(),
            counts: BTreeMap::new(),
            objects: BTreeMap::new(),
        }
    }

    /// Checks entry `index` (the next one of the tree), appends it to the frontier and
    /// learns from it; returns its kind (as counted), or what is wrong with it.
    pub fn check_entry(&mut self, index: u64, entry: &[u8]) -> Result<&'static str, EntryProblem> {
        debug_assert_eq!(index, self.frontier.size);
        self.frontier.push(crate::verify::leaf_hash(entry));
        let kind = self.judge(index, entry);
        let name = kind.as_ref().map_or("malformed", |k| *k);
        *self.counts.entry(name.to_owned()).or_default() += 1;
        kind
    }

    fn judge(&mut self, index: u64, entry: &[u8]) -> Result<&'static str, EntryProblem> {
        let entry = Entry::from_bytes(entry)?;
        match entry {
            Entry::Participant(leaf) => {
                parse_public_key(&leaf.public_key).map_err(EntryProblem::ParticipantKey)?;
                let id = leaf.id.to_string();
                if self.keys.contains_key(&id) {
                    return Err(EntryProblem::RegisteredTwice { id });
                }
                if let Some(owner) = self.key_owners.get(&leaf.public_key) {
                    return Err(EntryProblem::KeyTaken {
                        owner: owner.clone(),
                    });
                }
                self.key_owners.insert(leaf.public_key.clone(), id.clone());
                self.keys.insert(
                    id,
                    vec![KeyRecord {
                        index,
                        public_key: leaf.public_key,
                        roles: leaf.roles,
                        seq: 0,
                        token: 0,
                    }],
                );
                Ok("participant")
            }
            Entry::ParticipantChange(leaf) => {
                let id = leaf.participant.to_string();
                let Some(latest) = self.keys.get(&id).and_then(|h| h.last()) else {
                    return Err(EntryProblem::NotRegistered {
                        who: "changed participant",
                        id,
                    });
                };
                let state = ParticipantState {
                    seq: latest.seq,
                    roles: latest.roles.clone(),
                    token: latest.token,
                    token_entry: latest.index,
                };
                let next = state
                    .after(&leaf, index)
                    .map_err(|problem| EntryProblem::Change {
                        id: id.clone(),
                        problem,
                    })?;
                let record = KeyRecord {
                    index,
                    public_key: latest.public_key.clone(),
                    roles: next.roles,
                    seq: next.seq,
                    token: next.token,
                };
                if let Some(history) = self.keys.get_mut(&id) {
                    history.push(record);
                }
                Ok(leaf.kind.as_str())
            }
            Entry::Deposit(leaf) => {
                let depositor = leaf.depositor.to_string();
                let key = self
                    .keys
                    .get(&depositor)
                    .and_then(|h| h.iter().rev().find(|k| k.index < index))
                    .ok_or_else(|| EntryProblem::NotRegistered {
                        who: "depositor",
                        id: depositor.clone(),
                    })?;
                if !key.roles.contains(&Role::Depositor) {
                    return Err(EntryProblem::NotDepositor { id: depositor });
                }
                match (leaf.visibility, &leaf.statement, &leaf.commitment) {
                    (Visibility::Public, Some(st), None) => {
                        if st.payload_type != DEPOSIT_TYPE {
                            return Err(EntryProblem::StatementType(st.payload_type.clone()));
                        }
                        if st.signatures.first().map(|s| s.keyid.as_str())
                            != Some(depositor.as_str())
                        {
                            return Err(EntryProblem::KeyidNotDepositor);
                        }
                        let pk = parse_public_key(&key.public_key)
                            .map_err(EntryProblem::DepositorKey)?;
                        let payload = st.verify(&pk).map_err(EntryProblem::Signature)?;
                        let p = DepositPayload::from_statement_bytes(&payload)
                            .map_err(EntryProblem::Payload)?;
                        if p.sha256.to_ascii_lowercase() != leaf.sha256
                            || p.size != leaf.size
                            || p.visibility != leaf.visibility
                            || p.dataset_id.is_some_and(|d| d != leaf.dataset_id)
                        {
                            return Err(EntryProblem::StatementMismatch);
                        }
                        Ok("deposit (public)")
                    }
                    (Visibility::Private, None, Some(c))
                        if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) =>
                    {
                        Ok("deposit (private)")
                    }
                    _ => Err(EntryProblem::Visibility),
                }
            }
            Entry::Record(leaf) => {
                let c = &leaf.commitment;
                if c.len() != 64
                    || !c
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(EntryProblem::Commitment);
                }
                leaf.at().ok_or(EntryProblem::Time)?;
                let role = if leaf.kind == RecordKind::Access {
                    Role::Accessor
                } else {
                    Role::Controller
                };
                let issuer = leaf.issuer.to_string();
                let key = self
                    .keys
                    .get(&issuer)
                    .and_then(|h| h.iter().rev().find(|k| k.index < index))
                    .ok_or_else(|| EntryProblem::NotRegistered {
                        who: "issuer",
                        id: issuer.clone(),
                    })?;
                if !key.roles.contains(&role) {
                    return Err(EntryProblem::LacksRole { id: issuer, role });
                }
                Ok(leaf.kind.as_str())
            }
            Entry::Custody(leaf) => self.custody(index, &leaf),
        }
    }
}

impl AuditState {
    /// The custody rules: each entry well formed, about an object stored earlier under the
    /// same dataset version, nothing after its disposal, and no disposal before its retention
    /// ends or under a legal hold.
    fn custody(&mut self, index: u64, leaf: &CustodyLeaf) -> Result<&'static str, EntryProblem> {
        let bad = |m: String| Err(EntryProblem::Custody(m));
        if let Some(p) = leaf.problem() {
            return bad(p);
        }
        let kind = leaf.kind().as_str();
        let Some(r) = leaf.object() else {
            return Ok(kind);
        };
        let id = r.object.to_string();
        if let CustodyLeaf::Storage(s) = leaf {
            if s.deposit >= index {
                return bad(format!(
                    "storage of entry {} names a later deposit",
                    s.deposit
                ));
            }
            if self.objects.contains_key(&id) {
                return bad(format!("object {id} stored twice"));
            }
            self.objects.insert(
                id,
                ObjectState {
                    storage: index,
                    dataset_id: s.dataset_id.to_string(),
                    version: s.version,
                    locations: s.locations.clone(),
                    retain_until: s.retain_until.clone(),
                    held: false,
                    disposed: None,
                },
            );
            return Ok(kind);
        }
        let Some(state) = self.objects.get_mut(&id) else {
            return bad(format!("object {id} was never stored"));
        };
        if state.dataset_id != r.dataset_id.to_string() || state.version != r.version {
            return bad(format!(
                "object {id} belongs to dataset {} version {}",
                state.dataset_id, state.version
            ));
        }
        if let Some(at) = state.disposed {
            return bad(format!("object {id} was disposed of at entry {at}"));
        }
        match leaf {
            CustodyLeaf::FixityFailure(f) if !state.locations.contains(&f.location) => {
                return bad(format!("object {id} has no copy at {}", f.location));
            }
            CustodyLeaf::Repair(f)
                if !state.locations.contains(&f.location)
                    || !state.locations.contains(&f.source) =>
            {
                return bad(format!(
                    "object {id} has no copy at {} or {}",
                    f.location, f.source
                ));
            }
            CustodyLeaf::Download(d) if !self.keys.contains_key(&d.by.to_string()) => {
                return bad(format!("downloader {} was not registered before", d.by));
            }
            CustodyLeaf::LegalHold(h) => state.held = h.hold,
            CustodyLeaf::Disposal(d) => {
                if d.storage != state.storage {
                    return bad(format!(
                        "disposal names storage entry {}, not {}",
                        d.storage, state.storage
                    ));
                }
                if state.held {
                    return bad(format!("object {id} disposed of under a legal hold"));
                }
                let until = state
                    .retain_until
                    .as_deref()
                    .and_then(crate::custody::parse_time);
                if until.is_some_and(|u| crate::custody::parse_time(&d.time).is_some_and(|t| t < u))
                {
                    return bad(format!(
                        "object {id} disposed of before its retention ended"
                    ));
                }
                state.disposed = Some(index);
            }
            _ => {}
        }
        Ok(kind)
    }
}

/// The base64 of a hash, for reports.
pub fn b64(h: &[u8]) -> String {
    BASE64_STANDARD.encode(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_as_report_lines() {
        let mut state = AuditState::new("k");
        let mut check = |entry: &[u8]| {
            let index = state.frontier.size;
            state.check_entry(index, entry).unwrap_err().to_string()
        };
        assert_eq!(
            check(br#"{"v":2,"type":"deposit"}"#),
            "malformed deposit entry"
        );
        assert_eq!(check(br#"{"v":1,"type":"x"}"#), r#"unknown entry type "x""#);
        assert_eq!(check(b"[]"), "no entry type");
        assert_eq!(state.counts["malformed"], 3);
        assert_eq!(
            EntryProblem::LacksRole {
                id: "p".into(),
                role: Role::Accessor
            }
            .to_string(),
            "participant p lacks the accessor role"
        );
        assert_eq!(
            EntryProblem::NotRegistered {
                who: "issuer",
                id: "p".into()
            }
            .to_string(),
            "issuer p was not registered before"
        );
        assert_eq!(
            EntryProblem::ParticipantKey(PublicKeyError::Length(3)).to_string(),
            "public_key must be 32 bytes, not 3"
        );
    }

    /// A registration of `id` with `roles`, and entry bytes of changes and records by it.
    fn registration(id: &str, roles: &str) -> Vec<u8> {
        let key = BASE64_STANDARD.encode(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                .verifying_key()
                .as_bytes(),
        );
        format!(r#"{{"v":1,"type":"participant","id":"{id}","name":"n","roles":{roles},"public_key":"{key}","registered_at":"2026-11-28T10:00:00.000Z"}}"#).into_bytes()
    }

    fn change(
        id: &str,
        kind: &str,
        seq: u64,
        added: &str,
        removed: &str,
        roles: &str,
        token: u64,
    ) -> Vec<u8> {
        format!(r#"{{"v":1,"type":"{kind}","participant":"{id}","seq":{seq},"added":{added},"removed":{removed},"roles":{roles},"token":{token},"at":"2026-11-28T10:00:00.000Z"}}"#).into_bytes()
    }

    fn access(issuer: &str) -> Vec<u8> {
        format!(r#"{{"v":1,"type":"access","id":"00000000-0000-0000-0000-0000000000aa","issuer":"{issuer}","time":"2026-11-28T10:00:00.000Z","commitment":"{}"}}"#, "0".repeat(64)).into_bytes()
    }

    #[test]
    fn statements_are_judged_by_the_roles_their_signer_had_then() {
        let id = "00000000-0000-0000-0000-000000000001";
        let mut state = AuditState::new("k");
        let mut check = |entry: Vec<u8>| {
            let index = state.frontier.size;
            state.check_entry(index, &entry).map_err(|e| e.to_string())
        };
        assert_eq!(
            check(registration(id, r#"["accessor"]"#)),
            Ok("participant")
        );
        assert_eq!(check(access(id)), Ok("access"));
        assert_eq!(
            check(change(
                id,
                "participant_roles",
                1,
                "[]",
                r#"["accessor"]"#,
                "[]",
                0
            )),
            Ok("participant_roles")
        );
        assert_eq!(
            check(access(id)),
            Err(format!("participant {id} lacks the accessor role"))
        );
        assert_eq!(
            check(change(id, "participant_token", 2, "[]", "[]", "[]", 1)),
            Ok("participant_token")
        );
        assert_eq!(
            check(change(
                id,
                "participant_roles",
                3,
                r#"["accessor"]"#,
                "[]",
                r#"["accessor"]"#,
                1
            )),
            Ok("participant_roles")
        );
        assert_eq!(check(access(id)), Ok("access"));
    }

    #[test]
    fn a_change_must_follow_the_registry() {
        let id = "00000000-0000-0000-0000-000000000001";
        let other = "00000000-0000-0000-0000-000000000002";
        let mut state = AuditState::new("k");
        let mut check = |entry: Vec<u8>| {
            let index = state.frontier.size;
            state.check_entry(index, &entry).map_err(|e| e.to_string())
        };
        assert_eq!(
            check(change(
                other,
                "participant_roles",
                1,
                r#"["auditor"]"#,
                "[]",
                r#"["auditor"]"#,
                0
            )),
            Err(format!(
                "changed participant {other} was not registered before"
            ))
        );
        check(registration(id, r#"["depositor"]"#)).unwrap();
        let bad = |m: &str| Err(format!("change of participant {id}: {m}"));
        // A role removed that it lacks; added that it has.
        assert_eq!(
            check(change(
                id,
                "participant_roles",
                1,
                "[]",
                r#"["auditor"]"#,
                r#"["depositor"]"#,
                0
            )),
            bad("the participant does not have the auditor role")
        );
        assert_eq!(
            check(change(
                id,
                "participant_roles",
                1,
                r#"["depositor"]"#,
                "[]",
                r#"["depositor"]"#,
                0
            )),
            bad("the participant already has the depositor role")
        );
        // A gap in the numbers, roles that are not the result, an empty change, a token
        // number that skips.
        assert_eq!(
            check(change(
                id,
                "participant_roles",
                2,
                r#"["auditor"]"#,
                "[]",
                r#"["depositor","auditor"]"#,
                0
            )),
            bad("change number 2 follows change 0: expected 1")
        );
        assert_eq!(
            check(change(
                id,
                "participant_roles",
                1,
                r#"["auditor"]"#,
                "[]",
                r#"["auditor"]"#,
                0
            )),
            bad(r#"roles [Auditor] are not the result of the change ([Depositor, Auditor])"#)
        );
        assert_eq!(
            check(change(
                id,
                "participant_roles",
                1,
                "[]",
                "[]",
                r#"["depositor"]"#,
                0
            )),
            bad("added and removed roles are not a change")
        );
        assert_eq!(
            check(change(
                id,
                "participant_token",
                1,
                "[]",
                "[]",
                r#"["depositor"]"#,
                2
            )),
            bad("token number 2, expected 1")
        );
        // None of those moved the state: the right change still applies.
        assert_eq!(
            check(change(
                id,
                "participant_roles",
                1,
                r#"["auditor"]"#,
                "[]",
                r#"["depositor","auditor"]"#,
                0
            )),
            Ok("participant_roles")
        );
    }
}
