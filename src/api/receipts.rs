//! Receipts: built for an entry against a checkpoint (`GET /v1/receipts/{index}` uses the
//! latest), as JSON (`datapole.receipt.v1`) or as a c2sp.org/tlog-proof@v1 text. A private
//! entry's statement and salt go only to its depositor and to auditors.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::prelude::*;

use super::error::ApiError;
use super::log::Params;
use super::participants::lookup_participant;
use super::statements::authenticate;
use super::AppState;
use crate::log::tree::{self, StoreReader};
use crate::log::SignedCheckpoint;
use crate::participant::{ParticipantLeaf, Role};
use crate::receipt::{
    Opening, PrivateSidecar, Receipt, ReceiptInclusion, ReceiptLog, ReceiptSigner, RECEIPT_FORMAT,
};
use crate::statement::deposit::{DepositLeaf, Visibility};

/// Whether `reader` may open private entries deposited by `depositor`.
pub fn may_open(reader: Option<&ParticipantLeaf>, depositor: uuid::Uuid) -> bool {
    reader.is_some_and(|r| r.id == depositor || r.roles.contains(&Role::Auditor))
}

/// The receipt of entry `index` against `checkpoint` (which must include it); with the private
/// opening when `open` is true.
pub fn build_receipt(
    state: &AppState,
    index: u64,
    checkpoint: &SignedCheckpoint,
    open: bool,
) -> Result<Receipt, ApiError> {
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
    };
    if let Some(deposit) = DepositLeaf::from_bytes(&leaf) {
        let opened = deposit.visibility == Visibility::Public || open;
        // The signer's key serves to check the statement; without the statement it would be
        // an unverifiable claim, so it is left out.
        if let Some((_, signer)) = opened
            .then(|| lookup_participant(state, deposit.depositor))
            .transpose()?
            .flatten()
        {
            receipt.signer = Some(ReceiptSigner {
                participant_id: signer.id.to_string(),
                public_key: signer.public_key,
            });
        }
        if deposit.visibility == Visibility::Private && open {
            let sidecar = store
                .sidecar(index)?
                .and_then(|b| serde_json::from_slice::<PrivateSidecar>(&b).ok())
                .ok_or_else(|| {
                    ApiError::from(crate::log::StoreError::Corrupt(format!(
                        "private entry {index} has no readable sidecar"
                    )))
                })?;
            receipt.statement = Some(sidecar.statement);
            receipt.opening = Some(Opening { salt: sidecar.salt });
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
) -> Result<HttpResponse, ApiError> {
    let q = Params::new(query.into_inner(), &["format"])?;
    let tlog_proof = match q.get("format") {
        None | Some("json") => false,
        Some("tlog-proof") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("format {other:?}: use json or tlog-proof"),
            ))
        }
    };
    let index = super::log::parse_u64("index", &index)?;
    let reader = authenticate(&state, &req)?;
    let checkpoint = state.log.latest();
    if index >= checkpoint.size {
        return Err(ApiError::not_found(
            "entry_not_found",
            format!("index {index} is beyond the log's size {}", checkpoint.size),
        ));
    }
    let leaf = state.entry(index)?;
    let open =
        DepositLeaf::from_bytes(&leaf).is_some_and(|d| may_open(reader.as_ref(), d.depositor));
    let receipt = build_receipt(&state, index, &checkpoint, open)?;
    Ok(if tlog_proof {
        HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(receipt.to_tlog_proof())
    } else {
        HttpResponse::Ok().json(receipt)
    })
}
