//! `GET /v1/receipts/{index}[?format=json|tlog-proof]`: an entry's receipt against the
//! checkpoint receipts are built on now, as JSON (`datapole.receipt.v1`) or as a
//! c2sp.org/tlog-proof@v1 text; opened (statement and salt of a private entry) for its owner
//! and auditors, who send their participant token.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};

use super::log::Params;
use super::{off_reactor, AppState};
use crate::error::{Code, Error};

/// `GET /v1/receipts/{index}`.
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
    let token = super::optional_bearer(&req)?;
    let receipt = off_reactor(&state, move |ledger| {
        let view = ledger.view();
        let reader = match token {
            Some(token) => Some(ledger.authenticate(&view, &token)?),
            None => None,
        };
        ledger.receipt(index, reader.as_ref())
    })
    .await?;
    // 202 while the entry awaits the witnesses' quorum: the receipt is the log's alone.
    let mut answer = if receipt.witnessed == Some(false) {
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
