//! Receipts: built for an entry against a checkpoint (`GET /v1/receipts/{index}` uses the
//! latest), as JSON (`datapole.receipt.v1`) or as a c2sp.org/tlog-proof@v1 text. A private
//! entry's statement and salt go only to its depositor and to auditors.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::prelude::*;

use super::log::Params;
use super::participants::lookup_participant;
use super::statements::authenticate;
use super::{Against, AppState};
use crate::consent::{RecordKind, RecordLeaf};
use crate::error::{Code, Error};
use crate::log::tree::{self, StoreReader};
use crate::participant::{ParticipantLeaf, Role};
use crate::receipt::{
    Opening, PrivateSidecar, Receipt, ReceiptInclusion, ReceiptLog, ReceiptSigner, RECEIPT_FORMAT,
};
use crate::statement::deposit::{DepositLeaf, Visibility};

fn signer(state: &AppState, id: uuid::Uuid) -> Result<Option<ReceiptSigner>, Error> {
    Ok(lookup_participant(state, id)?.map(|(_, p)| ReceiptSigner {
        participant_id: p.id.to_string(),
        public_key: p.public_key,
    }))
}

/// The off-log data kept beside entry `index`, if any.
pub(crate) fn read_sidecar(state: &AppState, index: u64) -> Result<Option<PrivateSidecar>, Error> {
    match state.log.store().sidecar(index)? {
        None => Ok(None),
        Some(bytes) => PrivateSidecar::from_bytes(&bytes)
            .map(Some)
            .ok_or_else(|| super::corrupt(format!("entry {index} has an unreadable sidecar"))),
    }
}

/// Whether `reader` may open private entries deposited by `depositor` (or consent and access
/// records issued by `depositor`).
pub fn may_open(reader: Option<&ParticipantLeaf>, depositor: uuid::Uuid) -> bool {
    reader.is_some_and(|r| r.id == depositor || r.roles.contains(&Role::Auditor))
}

/// The receipt of entry `index` against a checkpoint (which must include it); with the
/// private opening when `open` is true.
pub fn build_receipt(
    state: &AppState,
    index: u64,
    against: Against<'_>,
    open: bool,
) -> Result<Receipt, Error> {
    let checkpoint = against.checkpoint;
    let store = state.log.store();
    let leaf = state.entry(index)?;
    let hashes = tree::inclusion_proof(index, checkpoint.size, &StoreReader::new(store))?;
    let mut receipt = Receipt {
        format: RECEIPT_FORMAT.into(),
        log: ReceiptLog {
            origin: state.log.signer().origin().to_owned(),
            vkey: state.log.signer().vkey().to_owned(),
        },
        index,
        leaf: BASE64_STANDARD.encode(&leaf),
        inclusion: ReceiptInclusion {
            tree_size: checkpoint.size,
            hashes: hashes.iter().map(|h| BASE64_STANDARD.encode(h.0)).collect(),
        },
        checkpoint: checkpoint.note.clone(),
        statement: None,
        opening: None,
        signer: None,
        witnessed: against.witnessed,
    };
    if let Some(deposit) = DepositLeaf::from_bytes(&leaf) {
        let opened = deposit.visibility == Visibility::Public || open;
        // The signer's key serves to check the statement; without the statement it would be
        // an unverifiable claim, so it is left out.
        if opened {
            receipt.signer = signer(state, deposit.depositor)?;
        }
        if deposit.visibility == Visibility::Private && open {
            let sidecar = read_sidecar(state, index)?.ok_or_else(|| {
                Error::from(crate::log::StoreError::Corrupt(format!(
                    "private entry {index} has no readable sidecar"
                )))
            })?;
            receipt.statement = sidecar.statement;
            receipt.opening = Some(Opening {
                salt: sidecar.salt,
                document: sidecar.document,
            });
        }
    } else if let Some(record) = RecordLeaf::from_bytes(&leaf) {
        // An erased record has no sidecar any more: its receipt proves inclusion only.
        if let Some(sidecar) = open
            .then(|| read_sidecar(state, index))
            .transpose()?
            .flatten()
        {
            receipt.signer = signer(state, record.issuer)?
                .filter(|_| sidecar.statement.is_some() || record.kind == RecordKind::Access);
            receipt.statement = sidecar.statement;
            receipt.opening = Some(Opening {
                salt: sidecar.salt,
                document: sidecar.document,
            });
        }
    }
    Ok(receipt)
}

/// `GET /v1/receipts/{index}[?format=json|tlog-proof]`, optionally with a participant token.
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    index: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["format"])?;
    let tlog_proof = match q.get("format") {
        None | Some("json") => false,
        Some("tlog-proof") => true,
        Some(other) => {
            return Err(Error::new(
                Code::InvalidQuery,
                format!("format {other:?}: use json or tlog-proof"),
            ))
        }
    };
    let index = super::log::parse_u64("index", &index)?;
    let reader = authenticate(&state, &req)?;
    let basis = state.receipt_basis();
    let against = basis.against(index);
    if index >= against.checkpoint.size {
        return Err(Error::new(
            Code::EntryNotFound,
            format!(
                "index {index} is beyond the log's size {}",
                against.checkpoint.size
            ),
        ));
    }
    let leaf = state.entry(index)?;
    let open = DepositLeaf::from_bytes(&leaf)
        .map(|d| d.depositor)
        .or_else(|| RecordLeaf::from_bytes(&leaf).map(|r| r.issuer))
        .is_some_and(|owner| may_open(reader.as_ref(), owner));
    let receipt = build_receipt(&state, index, against, open)?;
    // 202 while the entry awaits the witnesses' quorum: the receipt is the log's alone.
    let mut answer = if against.witnessed == Some(false) {
        HttpResponse::Accepted()
    } else {
        HttpResponse::Ok()
    };
    Ok(if tlog_proof {
        answer
            .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(receipt.to_tlog_proof())
    } else {
        answer.json(receipt)
    })
}
