//! Dataset deposits: `POST /v1/deposits` (a DSSE-signed deposit statement from a depositor),
//! and the searches `GET /v1/deposits?sha256=` and `GET /v1/datasets/{dataset_id}`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::log::Params;
use super::{off_reactor, read_json_body, write_status, AppState, MAX_BODY_BYTES};
use crate::error::{Code, Error};
use crate::field;
use crate::ledger::MAX_PAGE;

/// `POST /v1/deposits`: 201 (202 awaiting the witnesses) for a new entry, 200 for a duplicate.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let body = read_json_body(&req, body, MAX_BODY_BYTES).await?;
    let (accepted, written) = state.ledger.deposit(&body).await?;
    let status = match &written {
        Some(written) => write_status(written),
        None => actix_web::http::StatusCode::OK,
    };
    Ok(HttpResponse::build(status).json(accepted))
}

/// `GET /v1/deposits?sha256=<hex>[&after=<index>][&limit=<n>]`: one seek and one page.
pub async fn search(
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["sha256", "after", "limit"])?;
    let hex = q
        .get("sha256")
        .ok_or_else(|| Error::new(Code::InvalidQuery, "missing parameter sha256"))?;
    let sha = field::sha256_hex("sha256", hex)
        .map_err(|e| Error::new(Code::InvalidQuery, e.to_string()))?;
    let after = q.u64("after")?;
    let limit = q.limit(MAX_PAGE)?;
    let list = off_reactor(&state, move |ledger| ledger.deposits_of(&sha, after, limit)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `GET /v1/datasets/{dataset_id}[?after=<version>][&limit=<n>]`: one seek and one page.
pub async fn dataset(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["after", "limit"])?;
    let id = super::parse_uuid(Code::InvalidDatasetId, &id)?;
    let after = q.u64("after")?;
    let limit = q.limit(MAX_PAGE)?;
    let view = off_reactor(&state, move |ledger| ledger.dataset(id, after, limit)).await?;
    Ok(HttpResponse::Ok().json(view))
}
