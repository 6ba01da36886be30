//! Receipts: an entry, its inclusion proof and the signed checkpoint it leads to
//! (`datapole.receipt.v1`), with, for whoever may open it, the private record its entry
//! commits to. After a write the ledger builds the receipt from what it handed the sequencer
//! (the entry's bytes and type, its off-log record, the signer it verified); on a read, from
//! the published view. A private entry's statement and salt go only to its owner (the
//! depositor, or the record's issuer) and to auditors.

use std::sync::Arc;

use base64::prelude::*;
use uuid::Uuid;

use super::{Ledger, View};
use crate::consent::RecordKind;
use crate::entry::Entry;
use crate::error::{Code, Error};
use crate::log::tree::{self, StoreReader};
use crate::log::SignedCheckpoint;
use crate::participant::{ParticipantLeaf, Role};
use crate::receipt::{
    Opening, PrivateSidecar, Receipt, ReceiptInclusion, ReceiptLog, ReceiptSigner, RECEIPT_FORMAT,
};
use crate::statement::deposit::Visibility;

/// The checkpoint a receipt is built against, and whether it is witnessed (`None` on a log
/// without witnesses).
#[derive(Debug, Clone)]
pub struct Against {
    /// The checkpoint, which must include the entry.
    pub checkpoint: Arc<SignedCheckpoint>,
    /// Whether it carries the witness quorum's cosignatures.
    pub witnessed: Option<bool>,
}

/// Whether `reader` may open the private record of an entry owned by `owner`.
pub fn may_open(reader: Option<&ParticipantLeaf>, owner: Uuid) -> bool {
    reader.is_some_and(|r| r.id == owner || r.roles.contains(&Role::Auditor))
}

/// What a receipt shows beyond the proof.
#[derive(Default)]
struct Opened {
    statement: Option<crate::statement::dsse::Envelope>,
    opening: Option<Opening>,
    signer: Option<ReceiptSigner>,
}

impl Ledger {
    fn receipt_signer(&self, view: &View, id: Uuid) -> Result<Option<ReceiptSigner>, Error> {
        Ok(self.participant(view, id)?.map(|(_, p)| ReceiptSigner {
            participant_id: p.id.to_string(),
            public_key: p.public_key,
        }))
    }

    /// What the receipt of `entry` shows, given its off-log record (`None`: none, or erased)
    /// and whether the reader may open it.
    fn opened(
        &self,
        view: &View,
        index: u64,
        entry: Option<&Entry>,
        sidecar: Option<&PrivateSidecar>,
        open: bool,
    ) -> Result<Opened, Error> {
        let mut opened = Opened::default();
        match entry {
            Some(Entry::Deposit(deposit)) => {
                let public = deposit.visibility == Visibility::Public;
                // The signer's key serves to check the statement; without the statement it
                // would be an unverifiable claim, so it is left out.
                if public || open {
                    opened.signer = self.receipt_signer(view, deposit.depositor)?;
                }
                if !public && open {
                    let sidecar = sidecar.ok_or_else(|| {
                        Error::corrupt(format!("private entry {index} has no readable sidecar"))
                    })?;
                    opened.statement = sidecar.statement.clone();
                    opened.opening = Some(Opening {
                        salt: sidecar.salt.clone(),
                        document: sidecar.document.clone(),
                    });
                }
            }
            Some(Entry::Record(record)) => {
                // An erased record has no sidecar any more: its receipt proves inclusion only.
                if let Some(sidecar) = sidecar.filter(|_| open) {
                    if sidecar.statement.is_some() || record.kind == RecordKind::Access {
                        opened.signer = self.receipt_signer(view, record.issuer)?;
                    }
                    opened.statement = sidecar.statement.clone();
                    opened.opening = Some(Opening {
                        salt: sidecar.salt.clone(),
                        document: sidecar.document.clone(),
                    });
                }
            }
            Some(Entry::Participant(_) | Entry::ParticipantChange(_) | Entry::Custody(_))
            | None => {}
        }
        Ok(opened)
    }

    fn assemble(
        &self,
        index: u64,
        bytes: &[u8],
        against: &Against,
        opened: Opened,
    ) -> Result<Receipt, Error> {
        let checkpoint = &against.checkpoint;
        let hashes =
            tree::inclusion_proof(index, checkpoint.size, &StoreReader::new(self.log.store()))?;
        let signer = self.log.signer();
        Ok(Receipt {
            format: RECEIPT_FORMAT.into(),
            log: ReceiptLog {
                origin: signer.origin().to_owned(),
                vkey: signer.vkey().to_owned(),
            },
            index,
            leaf: BASE64_STANDARD.encode(bytes),
            inclusion: ReceiptInclusion {
                tree_size: checkpoint.size,
                hashes: hashes.iter().map(|h| BASE64_STANDARD.encode(h.0)).collect(),
            },
            checkpoint: checkpoint.note.clone(),
            statement: opened.statement,
            opening: opened.opening,
            signer: opened.signer,
            witnessed: against.witnessed,
        })
    }

    /// The receipt of an entry the ledger has just appended, opened for its author, from what
    /// the ledger handed the sequencer: no read of the entry, nor guess of its type.
    pub(super) fn written_receipt(
        &self,
        index: u64,
        entry: &Entry,
        bytes: &[u8],
        sidecar: Option<&PrivateSidecar>,
        against: &Against,
    ) -> Result<Receipt, Error> {
        let view = self.view();
        let opened = self.opened(&view, index, Some(entry), sidecar, true)?;
        self.assemble(index, bytes, against, opened)
    }

    /// The receipt of published entry `index` as `view` shows it; `open` says, from the
    /// entry, whether the receipt opens its private record.
    pub fn receipt_at(
        &self,
        view: &View,
        index: u64,
        open: impl FnOnce(Option<&Entry>) -> bool,
    ) -> Result<Receipt, Error> {
        let stored = view
            .entry(index)?
            .ok_or_else(|| not_found(index, view.size()))?;
        let entry = stored.entry.as_ref().ok();
        let open = open(entry);
        let sidecar = match entry {
            Some(Entry::Deposit(_) | Entry::Record(_)) if open => view.sidecar(index)?,
            _ => None,
        };
        let opened = self.opened(view, index, entry, sidecar.as_ref(), open)?;
        self.assemble(index, &stored.bytes, &view.against(index), opened)
    }

    /// `GET /v1/receipts/{index}`: the receipt of published entry `index` against the
    /// checkpoint receipts are built on now, opened when `reader` owns the entry or audits.
    pub fn receipt(&self, index: u64, reader: Option<&ParticipantLeaf>) -> Result<Receipt, Error> {
        let view = self.view();
        self.receipt_at(&view, index, |entry| {
            entry
                .and_then(Entry::owner)
                .is_some_and(|owner| may_open(reader, owner))
        })
    }
}

fn not_found(index: u64, size: u64) -> Error {
    Error::new(
        Code::EntryNotFound,
        format!("index {index} is beyond the log's size {size}"),
    )
}
