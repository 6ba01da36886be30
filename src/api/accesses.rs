//! Access decisions: `POST /v1/accesses` (an accessor's signed access statement). The ledger
//! decides and records the decision; a permit is answered 201 (202 awaiting the witnesses), a
//! deny 403, both with the access receipt.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{read_json_body, write_status, AppState, MAX_BODY_BYTES};
use crate::decision::Verdict;
use crate::error::Error;

/// `POST /v1/accesses`.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let body = read_json_body(&req, body, MAX_BODY_BYTES).await?;
    let (decided, written) = state.ledger.decide_access(&body).await?;
    let status = match decided.decision {
        Verdict::Permit => write_status(&written),
        Verdict::Deny => StatusCode::FORBIDDEN,
    };
    Ok(HttpResponse::build(status).json(decided))
}
