//! Offline verification of receipts (`datapole.receipt.v1`): each check is reported with its
//! outcome, and a receipt is valid only if every check that applies passes.

use base64::prelude::*;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::{leaf_hash, verify_checkpoint, verify_inclusion, Hash};
use crate::receipt::{Receipt, RECEIPT_FORMAT};
use crate::statement::deposit::{
    commitment, DepositLeaf, DepositPayload, Visibility, DEPOSIT_TYPE,
};
use crate::statement::dsse::Envelope;

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

    fn push(&mut self, name: &'static str, result: Result<String, String>) -> bool {
        let ok = result.is_ok();
        let detail = result.unwrap_or_else(|e| e);
        self.checks.push(Check { name, ok, detail });
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

/// Verifies a receipt with the log key `pinned_vkey` (or, if `None`, the key the receipt
/// names, which then proves only that the receipt is internally consistent).
pub fn verify_receipt(r: &Receipt, pinned_vkey: Option<&str>) -> Report {
    let mut report = Report { checks: Vec::new() };
    if !report.push(
        "format",
        if r.format == RECEIPT_FORMAT {
            Ok(RECEIPT_FORMAT.into())
        } else {
            Err(format!("unknown format {:?}", r.format))
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
                Err(format!(
                    "the receipt names key {:?}, not the pinned one",
                    r.log.vkey
                ))
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
                )),
            );
            return report;
        }
        Err(e) => {
            report.push("checkpoint signature", Err(e.to_string()));
            return report;
        }
    };
    let Some(leaf) = r.leaf_bytes() else {
        report.push("inclusion", Err("the leaf is not base64".into()));
        return report;
    };
    let inclusion = (|| {
        if r.inclusion.tree_size != checkpoint.size {
            return Err(format!(
                "the proof is for size {}, the checkpoint for {}",
                r.inclusion.tree_size, checkpoint.size
            ));
        }
        let hashes = r
            .inclusion
            .hashes
            .iter()
            .map(|h| hash32(h).ok_or_else(|| "a proof hash is not 32 bytes of base64".to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        verify_inclusion(
            &leaf_hash(&leaf),
            r.index,
            checkpoint.size,
            &hashes,
            &checkpoint.root,
        )
        .map_err(|e| e.to_string())?;
        Ok(format!(
            "entry {} is in the tree of size {}",
            r.index, checkpoint.size
        ))
    })();
    report.push("inclusion", inclusion);

    // Entry-specific checks.
    if let Some(deposit) = DepositLeaf::from_bytes(&leaf) {
        check_deposit(r, &deposit, &mut report);
    } else if r.statement.is_some() || r.opening.is_some() || r.signer.is_some() {
        report.push(
            "statement",
            Err("this entry carries no statement to open or check".into()),
        );
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
                    .map(|salt| crate::field::hex(&commitment(&salt, st)));
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
    let Some(signer) = &r.signer else {
        report.push(
            "statement signature",
            Err("no signer key to check the statement with".into()),
        );
        return;
    };
    let signed = (|| {
        if signer.participant_id != leaf.depositor.to_string() {
            return Err("the signer is not the entry's depositor".to_owned());
        }
        if statement.payload_type != DEPOSIT_TYPE {
            return Err(format!(
                "the statement's payloadType is {:?}",
                statement.payload_type
            ));
        }
        if statement.signatures.first().map(|s| s.keyid.as_str())
            != Some(signer.participant_id.as_str())
        {
            return Err("the statement's keyid is not the signer".to_owned());
        }
        let key = key(&signer.public_key).ok_or("the signer key is not an Ed25519 key")?;
        statement.verify(&key).map_err(|e| e.to_string())
    })();
    let payload = match signed {
        Ok(p) => {
            report.push(
                "statement signature",
                Ok(format!("signed by participant {}", signer.participant_id)),
            );
            p
        }
        Err(e) => {
            report.push("statement signature", Err(e));
            return;
        }
    };
    let matches = (|| {
        let p: DepositPayload =
            serde_json::from_slice(&payload).map_err(|e| format!("payload: {e}"))?;
        if p.sha256.to_ascii_lowercase() != leaf.sha256
            || p.size != leaf.size
            || p.visibility != leaf.visibility
        {
            return Err("the statement does not describe the entry's content".to_owned());
        }
        if p.dataset_id.is_some_and(|d| d != leaf.dataset_id) {
            return Err("the statement names another dataset".to_owned());
        }
        Ok(format!(
            "dataset {} version {}, sha256 {}",
            leaf.dataset_id, leaf.version, leaf.sha256
        ))
    })();
    report.push("statement matches entry", matches);
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
            report.push("checkpoint signature", Err(e.to_string()));
            return report;
        }
    };
    let inclusion = match &proof.extra {
        None => Err("the proof carries no leaf (extra line) to check".to_owned()),
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
        .map_err(|e| e.to_string()),
    };
    report.push("inclusion", inclusion);
    report
}
