//! `POST /v1/participants` (operator only) registers a participant; `GET
//! /v1/participants/{id}` returns its public record.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{parse_json, read_json_body, write_status, AppState, MAX_BODY_BYTES};
use crate::error::{Code, Error};
use crate::participant::RegistrationRequest;

/// `POST /v1/participants`.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Error> {
    state.require_admin(&req)?;
    let body = read_json_body(&req, payload, MAX_BODY_BYTES).await?;
    let request: RegistrationRequest = parse_json(&body)?;
    let (registered, written) = state.ledger.register(request).await?;
    Ok(HttpResponse::build(write_status(&written)).json(registered))
}

/// `GET /v1/participants/{id}`.
pub async fn get(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, Error> {
    let id = super::parse_uuid(Code::InvalidParticipantId, &id)?;
    Ok(HttpResponse::Ok().json(state.ledger.participant_view(id)?))
}
