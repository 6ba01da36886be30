//! The monitor's rules, as pure functions over plain data: what a checked log has shown so
//! far (its verified checkpoint, the right edge of its tree, the key history of its
//! participants) and the checks every new entry must pass. `datapole audit` (in `cli/`)
//! downloads; this module judges.

use std::collections::BTreeMap;

use base64::prelude::*;
use serde::{Deserialize, Serialize};

use crate::consent::RecordKind;
use crate::entry::{Entry, EntryError};
use crate::participant::{parse_public_key, Role};
use crate::statement::deposit::{DepositPayload, Visibility, DEPOSIT_TYPE};
use crate::verify::Frontier;

/// A key a participant was registered with, and from which entry on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The registration entry's index.
    pub index: u64,
    /// The Ed25519 key, standard base64.
    pub public_key: String,
    /// The roles granted.
    pub roles: Vec<Role>,
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
        }
    }

    /// Checks entry `index` (the next one of the tree), appends it to the frontier and
    /// learns from it; returns what is wrong with it, if anything.
    pub fn check_entry(&mut self, index: u64, entry: &[u8]) -> Result<&'static str, String> {
        debug_assert_eq!(index, self.frontier.size);
        self.frontier.push(crate::verify::leaf_hash(entry));
        let kind = self.judge(index, entry);
        let name = kind.as_ref().map_or("malformed", |k| *k);
        *self.counts.entry(name.to_owned()).or_default() += 1;
        kind
    }

    fn judge(&mut self, index: u64, entry: &[u8]) -> Result<&'static str, String> {
        let entry = Entry::from_bytes(entry).map_err(|e| match e {
            EntryError::Malformed { kind, .. } => format!("malformed {kind} entry"),
            e => e.to_string(),
        })?;
        match entry {
            Entry::Participant(leaf) => {
                parse_public_key(&leaf.public_key).map_err(|e| format!("public_key {e}"))?;
                let id = leaf.id.to_string();
                if self.keys.contains_key(&id) {
                    return Err(format!("participant {id} registered twice"));
                }
                if let Some(owner) = self.key_owners.get(&leaf.public_key) {
                    return Err(format!(
                        "its key is already registered to participant {owner}"
                    ));
                }
                self.key_owners.insert(leaf.public_key.clone(), id.clone());
                self.keys.insert(
                    id,
                    vec![KeyRecord {
                        index,
                        public_key: leaf.public_key,
                        roles: leaf.roles,
                    }],
                );
                Ok("participant")
            }
            Entry::Deposit(leaf) => {
                let depositor = leaf.depositor.to_string();
                let key = self
                    .keys
                    .get(&depositor)
                    .and_then(|h| h.iter().rev().find(|k| k.index < index))
                    .ok_or_else(|| format!("depositor {depositor} was not registered before"))?;
                if !key.roles.contains(&Role::Depositor) {
                    return Err(format!("participant {depositor} has no depositor role"));
                }
                match (leaf.visibility, &leaf.statement, &leaf.commitment) {
                    (Visibility::Public, Some(st), None) => {
                        if st.payload_type != DEPOSIT_TYPE {
                            return Err(format!("statement of type {:?}", st.payload_type));
                        }
                        if st.signatures.first().map(|s| s.keyid.as_str())
                            != Some(depositor.as_str())
                        {
                            return Err("statement keyid is not the depositor".into());
                        }
                        let pk = parse_public_key(&key.public_key)
                            .map_err(|e| format!("depositor key {e}"))?;
                        let payload = st.verify(&pk).map_err(|e| format!("statement: {e}"))?;
                        let p = DepositPayload::from_statement_bytes(&payload)
                            .map_err(|e| e.at("statement payload"))?;
                        if p.sha256.to_ascii_lowercase() != leaf.sha256
                            || p.size != leaf.size
                            || p.visibility != leaf.visibility
                            || p.dataset_id.is_some_and(|d| d != leaf.dataset_id)
                        {
                            return Err("the signed statement does not describe the entry".into());
                        }
                        Ok("deposit (public)")
                    }
                    (Visibility::Private, None, Some(c))
                        if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) =>
                    {
                        Ok("deposit (private)")
                    }
                    _ => Err("visibility, statement and commitment do not agree".into()),
                }
            }
            Entry::Record(leaf) => {
                let c = &leaf.commitment;
                if c.len() != 64
                    || !c
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err("commitment is not a lower-case hex SHA-256".into());
                }
                leaf.at().ok_or("time is not an RFC 3339 time")?;
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
                    .ok_or_else(|| format!("issuer {issuer} was not registered before"))?;
                if !key.roles.contains(&role) {
                    return Err(format!(
                        "participant {issuer} lacks the {} role",
                        role.as_str()
                    ));
                }
                Ok(leaf.kind.as_str())
            }
        }
    }
}

/// The base64 of a hash, for reports.
pub fn b64(h: &[u8]) -> String {
    BASE64_STANDARD.encode(h)
}
