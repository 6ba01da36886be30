//! Offline verification of receipts (`datapole.receipt.v1`): each check is reported with its
//! outcome, and a receipt is valid only if every check that applies passes.

use std::borrow::Cow;

use base64::prelude::*;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::{leaf_hash, verify_checkpoint, verify_inclusion, Hash, VerifyError};
use crate::consent::{EventDocument, RecordKind, RecordLeaf};
use crate::decision::AccessRecord;
use crate::decision::Verdict;
use crate::entry::Entry;
use crate::json::{EncodeError, JsonError};
use crate::receipt::{Receipt, RECEIPT_FORMAT};
use crate::statement::access::{AccessPayload, ACCESS_TYPE};
use crate::statement::consent::{
    ConsentActionPayload, ConsentDecision, ConsentPayload, CONSENT_TYPE, ERASURE_TYPE,
    WITHDRAWAL_TYPE,
};
use crate::statement::deposit::{
    commitment, DepositLeaf, DepositPayload, Visibility, DEPOSIT_TYPE,
};
use crate::statement::dsse::{DsseError, Envelope};
use crate::witness::cosignature::KeyError;
use uuid::Uuid;

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it holds.
    pub ok: bool,
    /// Why (the failure, or what was established).
    pub detail: String,
}

impl Check {
    /// The check `name`, passed with what it established or failed with why.
    fn new(name: &'static str, result: Result<String, Failure>) -> Self {
        match result {
            Ok(detail) => Check {
                name,
                ok: true,
                detail,
            },
            Err(failure) => Check {
                name,
                ok: false,
                detail: failure.to_string(),
            },
        }
    }
}

/// Why a check failed. Its Display is the check's `detail`, as `datapole verify` prints it
/// and as the browser verifier words it too.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// What the check found not to hold, in its own words: a format, key, origin, size,
    /// identity or commitment other than the one required, a part missing or one too many.
    /// (`From<&'static str>` and `From<String>` make one.)
    #[error("{0}")]
    Found(Cow<'static, str>),
    /// A checkpoint signature, inclusion proof or cosignature that does not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A witness verifier key given to check cosignatures with that is not one.
    #[error(transparent)]
    WitnessKey(#[from] KeyError),
    /// A statement's envelope that is malformed or does not verify with the signer's key.
    #[error(transparent)]
    Envelope(#[from] DsseError),
    /// A statement that cannot be written back to the bytes its commitment covers.
    #[error("the statement cannot be written back: {0}")]
    Unwritable(EncodeError),
    /// A signed payload that is not strict JSON of the statement's type.
    #[error("{}", .0.at("statement payload"))]
    Payload(JsonError),
    /// A statement that is not a consent.
    #[error("the statement is not a consent: {0}")]
    NotConsent(JsonError),
    /// A statement that is not a withdrawal or erasure of a consent (the entry's kind).
    #[error("the statement is not a consent {}: {error}", kind.as_str())]
    NotConsentAction {
        /// The entry's kind.
        kind: RecordKind,
        /// Why the statement does not read as one.
        error: JsonError,
    },
    /// A statement that is not an access request.
    #[error("the statement is not an access: {0}")]
    NotAccess(JsonError),
    /// An opened document that is not a citizen's consent event.
    #[error("the document is not a consent event: {0}")]
    NotConsentEvent(JsonError),
    /// An opened document that is not an access record.
    #[error("the document is not an access record: {0}")]
    NotAccessRecord(JsonError),
}

impl From<&'static str> for Failure {
    fn from(found: &'static str) -> Self {
        Failure::Found(Cow::Borrowed(found))
    }
}

impl From<String> for Failure {
    fn from(found: String) -> Self {
        Failure::Found(Cow::Owned(found))
    }
}

/// A JSON document in which [`verify_document`] finds no receipt.
#[derive(Debug, thiserror::Error)]
#[error("not a datapole.receipt.v1 receipt: {0}")]
pub struct NotAReceipt(pub serde_json::Error);

/// The outcome of verifying a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Every check made, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when every check passed (and there was at least one).
    pub fn ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }

    /// Adds the check `name` with its outcome; whether it passed.
    pub(super) fn push(&mut self, name: &'static str, result: Result<String, Failure>) -> bool {
        let check = Check::new(name, result);
        let ok = check.ok;
        self.checks.push(check);
        ok
    }
}

fn hash32(s: &str) -> Option<Hash> {
    BASE64_STANDARD.decode(s).ok()?.try_into().ok()
}

fn key(s: &str) -> Option<VerifyingKey> {
    let raw: [u8; 32] = BASE64_STANDARD.decode(s).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&raw).ok()
}

/// Checks that a signed checkpoint carries valid `cosignature/v1` cosignatures
/// (c2sp.org/tlog-cosignature) of at least `quorum` of the witnesses whose verifier keys are
/// given.
pub fn check_witnesses(checkpoint: &str, witness_vkeys: &[String], quorum: usize) -> Check {
    let name = "witness cosignatures";
    let verifiers: Result<Vec<_>, _> = witness_vkeys
        .iter()
        .map(|v| crate::witness::cosignature::CosignatureVerifier::from_vkey(v))
        .collect();
    let result = (|| {
        let verifiers = verifiers?;
        if quorum == 0 || quorum > verifiers.len() {
            return Err(Failure::from(format!(
                "a quorum of {quorum} among {} witness keys is not a requirement",
                verifiers.len()
            )));
        }
        let found = crate::verify::check_cosignatures(checkpoint, &verifiers)?;
        let list = found
            .iter()
            .map(|c| {
                let when = chrono::DateTime::from_timestamp(c.timestamp as i64, 0)
                    .map_or_else(|| c.timestamp.to_string(), |t| t.to_rfc3339());
                format!("{} at {when}", c.witness)
            })
            .collect::<Vec<_>>()
            .join(", ");
        if found.len() < quorum {
            return Err(Failure::from(format!(
                "{} of the {} given witnesses cosigned the checkpoint, {quorum} needed{}",
                found.len(),
                verifiers.len(),
                if list.is_empty() {
                    String::new()
                } else {
                    format!(" ({list})")
                }
            )));
        }
        Ok(format!(
            "{} of {} witnesses cosigned the checkpoint ({quorum} needed): {list}",
            found.len(),
            verifiers.len()
        ))
    })();
    Check::new(name, result)
}

/// Verifies a receipt file's JSON as `datapole verify` and the web pages do: a bare receipt,
/// or an answer that carries one under `receipt` (a deposit's, a withdrawal's, an access
/// decision's, or a citizen's consent receipt, whose `record`, `consent_id` and `expires_at`
/// add the `record` check). `Err` when the JSON holds no receipt at all.
pub fn verify_document(
    value: &serde_json::Value,
    pinned_vkey: Option<&str>,
) -> Result<(Report, Receipt), NotAReceipt> {
    let (receipt_value, wrapper) = match value.get("receipt") {
        Some(r) if value.get("format").is_none() => (r, Some(value)),
        _ => (value, None),
    };
    let receipt = Receipt::deserialize(receipt_value).map_err(NotAReceipt)?;
    let mut report = verify_receipt(&receipt, pinned_vkey);
    if let Some(w) = wrapper {
        if let Some(record) = w.get("record") {
            let expires_at = w.get("expires_at").filter(|v| !v.is_null());
            report.checks.push(match expires_at {
                // An end of validity the reader would see, but not one the check can compare.
                Some(v) if !v.is_string() => Check {
                    name: "record",
                    ok: false,
                    detail: "expires_at is not a string".into(),
                },
                _ => check_citizen_record(
                    &receipt,
                    w.get("consent_id").and_then(|v| v.as_str()),
                    record,
                    expires_at.and_then(|v| v.as_str()),
                ),
            });
        }
    }
    Ok((report, receipt))
}

/// Verifies a receipt with the log key `pinned_vkey` (or, if `None`, the key the receipt
/// names, which then proves only that the receipt is internally consistent).
pub fn verify_receipt(r: &Receipt, pinned_vkey: Option<&str>) -> Report {
    let mut report = Report { checks: Vec::new() };
    if !report.push(
        "format",
        if r.format == RECEIPT_FORMAT {
            Ok(RECEIPT_FORMAT.into())
        } else {
            Err(format!("unknown format {:?}", r.format).into())
        },
    ) {
        return report;
    }
    let vkey = pinned_vkey.unwrap_or(&r.log.vkey);
    if pinned_vkey.is_some() {
        report.push(
            "log key",
            if r.log.vkey == vkey {
                Ok("the receipt names the pinned log key".into())
            } else {
                Err(format!("the receipt names key {:?}, not the pinned one", r.log.vkey).into())
            },
        );
    }
    let checkpoint = match verify_checkpoint(&r.checkpoint, vkey) {
        Ok(cp) if cp.origin == r.log.origin => {
            report.push(
                "checkpoint signature",
                Ok(format!(
                    "signed by {} for {} at size {}",
                    cp.key_name, cp.origin, cp.size
                )),
            );
            cp
        }
        Ok(cp) => {
            report.push(
                "checkpoint signature",
                Err(format!(
                    "checkpoint origin {:?} is not the receipt's {:?}",
                    cp.origin, r.log.origin
                )
                .into()),
            );
            return report;
        }
        Err(e) => {
            report.push("checkpoint signature", Err(e.into()));
            return report;
        }
    };
    let Some(leaf) = r.leaf_bytes() else {
        report.push("inclusion", Err("the leaf is not base64".into()));
        return report;
    };
    let inclusion = (|| {
        if r.inclusion.tree_size != checkpoint.size {
            return Err(Failure::from(format!(
                "the proof is for size {}, the checkpoint for {}",
                r.inclusion.tree_size, checkpoint.size
            )));
        }
        let hashes = r
            .inclusion
            .hashes
            .iter()
            .map(|h| hash32(h).ok_or("a proof hash is not 32 bytes of base64"))
            .collect::<Result<Vec<_>, _>>()?;
        verify_inclusion(
            &leaf_hash(&leaf),
            r.index,
            checkpoint.size,
            &hashes,
            &checkpoint.root,
        )?;
        Ok(format!(
            "entry {} is in the tree of size {}",
            r.index, checkpoint.size
        ))
    })();
    report.push("inclusion", inclusion);

    // Entry-specific checks.
    match Entry::from_bytes(&leaf) {
        Ok(Entry::Deposit(deposit)) => check_deposit(r, &deposit, &mut report),
        Ok(Entry::Record(record)) => check_record(r, &record, &mut report),
        _ if r.statement.is_some() || r.opening.is_some() || r.signer.is_some() => {
            report.push(
                "statement",
                Err("this entry carries no statement to open or check".into()),
            );
        }
        _ => {}
    }
    report
}

fn check_deposit(r: &Receipt, leaf: &DepositLeaf, report: &mut Report) {
    // The statement: in the leaf (public) or in the receipt with its opening (private).
    let statement: Option<&Envelope> = match leaf.visibility {
        Visibility::Public => {
            if r.statement.is_some() || r.opening.is_some() {
                report.push(
                    "statement",
                    Err("a public entry's statement is in its leaf; the receipt must not carry another".into()),
                );
                return;
            }
            if leaf.statement.is_none() || leaf.commitment.is_some() {
                report.push(
                    "statement",
                    Err("a public deposit entry must carry its statement and no commitment".into()),
                );
                return;
            }
            leaf.statement.as_ref()
        }
        Visibility::Private => match (&r.statement, &r.opening, &leaf.commitment) {
            (Some(st), Some(op), Some(c)) => {
                let opened = BASE64_STANDARD
                    .decode(&op.salt)
                    .ok()
                    .filter(|s| s.len() == 32)
                    .and_then(|salt| commitment(&salt, st).ok())
                    .map(|c| crate::field::hex(&c));
                report.push(
                    "commitment",
                    if opened.as_deref() == Some(c.as_str()) {
                        Ok("the statement and salt open the entry's commitment".into())
                    } else {
                        Err("the statement and salt do not open the entry's commitment".into())
                    },
                );
                Some(st)
            }
            (None, None, Some(_)) => None,
            _ => {
                report.push(
                    "commitment",
                    Err("incomplete opening of a private entry".into()),
                );
                return;
            }
        },
    };
    let Some(statement) = statement else {
        if r.signer.is_some() {
            report.push(
                "statement",
                Err("a signer is named but no statement is given".into()),
            );
        }
        return;
    };
    let Some(payload) = check_signature(r, statement, DEPOSIT_TYPE, leaf.depositor, report) else {
        return;
    };
    let matches = (|| {
        let p = DepositPayload::from_statement_bytes(&payload).map_err(Failure::Payload)?;
        if p.sha256.to_ascii_lowercase() != leaf.sha256
            || p.size != leaf.size
            || p.visibility != leaf.visibility
        {
            return Err("the statement does not describe the entry's content".into());
        }
        if p.dataset_id.is_some_and(|d| d != leaf.dataset_id) {
            return Err("the statement names another dataset".into());
        }
        // The dataset's controller: the statement's, when it names one; a first version that
        // names none is the depositor's.
        let named = match p.controller {
            Some(c) => Some(c),
            None if leaf.version == 1 => Some(leaf.depositor),
            None => None,
        };
        if named.is_some_and(|c| c != leaf.controller()) {
            return Err("the statement names another controller than the entry".into());
        }
        Ok(format!(
            "dataset {} version {}, sha256 {}",
            leaf.dataset_id, leaf.version, leaf.sha256
        ))
    })();
    report.push("statement matches entry", matches);
}

/// Checks that `statement` is of `payload_type` and signed by the receipt's signer, who must
/// be participant `expected`; reports it and returns the payload.
fn check_signature(
    r: &Receipt,
    statement: &Envelope,
    payload_type: &str,
    expected: Uuid,
    report: &mut Report,
) -> Option<Vec<u8>> {
    let Some(signer) = &r.signer else {
        report.push(
            "statement signature",
            Err("no signer key to check the statement with".into()),
        );
        return None;
    };
    let signed = (|| {
        if signer.participant_id != expected.to_string() {
            return Err(Failure::from(format!(
                "the signer is not participant {expected}, who issued the entry"
            )));
        }
        if statement.payload_type != payload_type {
            return Err(Failure::from(format!(
                "the statement's payloadType is {:?}, not {payload_type}",
                statement.payload_type
            )));
        }
        if statement.signatures.first().map(|s| s.keyid.as_str())
            != Some(signer.participant_id.as_str())
        {
            return Err("the statement's keyid is not the signer".into());
        }
        let key = key(&signer.public_key).ok_or("the signer key is not an Ed25519 key")?;
        Ok(statement.verify(&key)?)
    })();
    match signed {
        Ok(p) => {
            report.push(
                "statement signature",
                Ok(format!("signed by participant {}", signer.participant_id)),
            );
            Some(p)
        }
        Err(e) => {
            report.push("statement signature", Err(e));
            None
        }
    }
}

/// Checks a consent, consent event or access entry: the opening, then what it opens.
fn check_record(r: &Receipt, leaf: &RecordLeaf, report: &mut Report) {
    let Some(opening) = &r.opening else {
        if r.statement.is_some() || r.signer.is_some() {
            report.push(
                "commitment",
                Err("a statement or signer is given without the opening".into()),
            );
        }
        // Inclusion only: the record stays private (or was erased).
        return;
    };
    let committed = match (&r.statement, &opening.document) {
        (Some(st), None) => st.to_bytes().map_err(Failure::Unwritable),
        (None, Some(doc)) => BASE64_STANDARD
            .decode(doc)
            .map_err(|_| "the opening's document is not base64".into()),
        _ => Err("an opening carries exactly one of a statement and a document".into()),
    };
    let opened = committed.and_then(|bytes| {
        let salt = BASE64_STANDARD
            .decode(&opening.salt)
            .ok()
            .filter(|s| s.len() == 32)
            .ok_or("the salt is not 32 bytes of base64")?;
        if crate::field::hex(&crate::statement::commitment(&salt, &bytes)) == leaf.commitment {
            Ok(bytes)
        } else {
            Err("the opening does not open the entry's commitment".into())
        }
    });
    let bytes = match opened {
        Ok(b) => {
            report.push(
                "commitment",
                Ok(format!(
                    "the opening opens the {} entry's commitment",
                    leaf.kind.as_str()
                )),
            );
            b
        }
        Err(e) => {
            report.push("commitment", Err(e));
            return;
        }
    };
    let id = leaf.id;
    match (leaf.kind, &r.statement) {
        (RecordKind::Consent, Some(st)) => {
            let Some(payload) = check_signature(r, st, CONSENT_TYPE, leaf.issuer, report) else {
                return;
            };
            report.push(
                "statement matches entry",
                ConsentPayload::from_statement_bytes(&payload)
                    .map(|p| {
                        format!(
                            "consent {id} {} by controller {} for {} purpose(s)",
                            match p.decision {
                                ConsentDecision::Given => "given",
                                ConsentDecision::Refused => "refused",
                            },
                            leaf.issuer,
                            p.purposes.len()
                        )
                    })
                    .map_err(Failure::NotConsent),
            );
        }
        (kind @ (RecordKind::Withdrawal | RecordKind::Erasure), Some(st)) => {
            let ty = if kind == RecordKind::Withdrawal {
                WITHDRAWAL_TYPE
            } else {
                ERASURE_TYPE
            };
            let Some(payload) = check_signature(r, st, ty, leaf.issuer, report) else {
                return;
            };
            report.push(
                "statement matches entry",
                ConsentActionPayload::from_statement_bytes(&payload)
                    .map(|p| {
                        format!(
                            "{} of consent {} by its controller",
                            kind.as_str(),
                            p.consent_id
                        )
                    })
                    .map_err(|error| Failure::NotConsentAction { kind, error }),
            );
        }
        (kind @ (RecordKind::Withdrawal | RecordKind::Erasure), None) => {
            if r.signer.is_some() {
                report.push(
                    "record matches entry",
                    Err("a citizen's event names a signer, but the citizen signs nothing".into()),
                );
                return;
            }
            let doc = EventDocument::from_bytes(&bytes)
                .map_err(Failure::NotConsentEvent)
                .and_then(|d| {
                    if d.kind != kind || d.id != id || d.time != leaf.time {
                        Err("the document describes another event".into())
                    } else {
                        Ok(format!(
                            "{} of consent {} by the citizen",
                            kind.as_str(),
                            d.consent_id
                        ))
                    }
                });
            report.push("record matches entry", doc);
        }
        (RecordKind::Access, None) => {
            let record = match AccessRecord::from_bytes(&bytes) {
                Ok(rec)
                    if rec.id == id
                        && rec.accessor == leaf.issuer
                        && rec.decided_at == leaf.time =>
                {
                    rec
                }
                Ok(_) => {
                    report.push(
                        "record matches entry",
                        Err("the access record describes another entry".into()),
                    );
                    return;
                }
                Err(e) => {
                    report.push("record matches entry", Err(Failure::NotAccessRecord(e)));
                    return;
                }
            };
            let Some(payload) =
                check_signature(r, &record.statement, ACCESS_TYPE, leaf.issuer, report)
            else {
                return;
            };
            // The statement the log decided on must read as the API read it.
            if let Err(e) = AccessPayload::from_statement_bytes(&payload) {
                report.push("record matches entry", Err(Failure::NotAccess(e)));
                return;
            }
            report.push(
                "record matches entry",
                Ok(format!(
                    "access {id}: {} ({}){}",
                    match record.decision {
                        Verdict::Permit => "permit",
                        Verdict::Deny => "deny",
                    },
                    record.reason.code(),
                    if record.emergency { ", emergency" } else { "" }
                )),
            );
        }
        (kind, _) => {
            report.push(
                "statement",
                Err(format!(
                    "a {} entry does not open to {}",
                    kind.as_str(),
                    if r.statement.is_some() {
                        "a statement"
                    } else {
                        "a document"
                    }
                )
                .into()),
            );
        }
    }
}

/// Checks the record and consent id a citizen receipt shows beside its log receipt: they must
/// be what the receipt's signed statement and entry say.
pub fn check_citizen_record(
    r: &Receipt,
    consent_id: Option<&str>,
    record: &serde_json::Value,
    expires_at: Option<&str>,
) -> Check {
    let result = (|| {
        let leaf = r
            .leaf_bytes()
            .and_then(|l| match Entry::from_bytes(&l) {
                Ok(Entry::Record(leaf)) if leaf.kind == RecordKind::Consent => Some(leaf),
                _ => None,
            })
            .ok_or("the receipt is not for a consent entry")?;
        if consent_id != Some(leaf.id.to_string().as_str()) {
            return Err(Failure::from(format!(
                "the consent id shown is not the entry's ({})",
                leaf.id
            )));
        }
        let statement = r
            .statement
            .as_ref()
            .ok_or("the receipt carries no statement")?;
        let (payload, _) = statement.check()?;
        let signed = crate::json::value(&payload).map_err(Failure::Payload)?;
        if &signed != record {
            return Err("the record shown is not the one the controller signed".into());
        }
        if let Some(shown) = expires_at {
            let payload: ConsentPayload =
                crate::json::from_value(signed).map_err(Failure::NotConsent)?;
            let computed = leaf
                .at()
                .and_then(|at| payload.expires_at(at))
                .map(crate::consent::time)
                .ok_or("the consent's validity has no computable end")?;
            if computed != shown {
                return Err(Failure::from(format!(
                    "expires_at {shown} is not the signed validity's end ({computed})"
                )));
            }
        }
        Ok(format!(
            "the record shown is the signed statement of consent {}",
            leaf.id
        ))
    })();
    Check::new("record", result)
}

/// Verifies a c2sp.org/tlog-proof@v1 text's proof with the log key `vkey`: the checkpoint's
/// signature, and the inclusion of the leaf it carries as extra data.
pub fn verify_tlog_proof(proof: &crate::receipt::TlogProof, vkey: &str) -> Report {
    let mut report = Report { checks: Vec::new() };
    let checkpoint = match verify_checkpoint(&proof.checkpoint, vkey) {
        Ok(cp) => {
            report.push(
                "checkpoint signature",
                Ok(format!(
                    "signed by {} for {} at size {}",
                    cp.key_name, cp.origin, cp.size
                )),
            );
            cp
        }
        Err(e) => {
            report.push("checkpoint signature", Err(e.into()));
            return report;
        }
    };
    let inclusion = match &proof.extra {
        None => Err("the proof carries no leaf (extra line) to check".into()),
        Some(leaf) => verify_inclusion(
            &leaf_hash(leaf),
            proof.index,
            checkpoint.size,
            &proof.hashes,
            &checkpoint.root,
        )
        .map(|()| {
            format!(
                "entry {} is in the tree of size {}",
                proof.index, checkpoint.size
            )
        })
        .map_err(Failure::from),
    };
    report.push("inclusion", inclusion);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_the_details_reported() {
        let check = Check::new("x", Err("the leaf is not base64".into()));
        assert!(!check.ok);
        assert_eq!(check.detail, "the leaf is not base64");
        assert_eq!(
            Failure::from(VerifyError::InclusionMismatch).to_string(),
            "the inclusion proof does not lead to the checkpoint's root"
        );
        let error = crate::json::from_slice::<ConsentPayload>(b"{}").unwrap_err();
        assert_eq!(
            Failure::NotConsentAction {
                kind: RecordKind::Erasure,
                error: error.clone()
            }
            .to_string(),
            format!("the statement is not a consent erasure: {error}")
        );
        let not = verify_document(&serde_json::json!({"format": 1}), None).unwrap_err();
        assert_eq!(
            not.to_string(),
            format!("not a datapole.receipt.v1 receipt: {}", not.0)
        );
    }
}
