//! `POST /v1/participants` (operator only) registers a participant; `GET
//! /v1/participants/{id}` returns its public record; `POST /v1/participants/{id}/roles` and
//! `POST /v1/participants/{id}/token` (operator only) change its roles and reissue its token.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{parse_json, read_json_body, write_status, AppState, MAX_BODY_BYTES};
use crate::error::{Code, Error};
use crate::participant::{RegistrationRequest, RolesRequest};

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

/// `POST /v1/participants/{id}/roles`: `{"add": [...], "remove": [...]}`.
pub async fn change_roles(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Error> {
    state.require_admin(&req)?;
    let id = super::parse_uuid(Code::InvalidParticipantId, &id)?;
    let body = read_json_body(&req, payload, MAX_BODY_BYTES).await?;
    let request: RolesRequest = parse_json(&body)?;
    let (changed, written) = state.ledger.change_roles(id, request).await?;
    Ok(HttpResponse::build(write_status(&written)).json(changed))
}

/// `POST /v1/participants/{id}/token` (no body): a new API token, shown once.
pub async fn reissue_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    state.require_admin(&req)?;
    let id = super::parse_uuid(Code::InvalidParticipantId, &id)?;
    let (reissued, written) = state.ledger.reissue_token(id).await?;
    Ok(HttpResponse::build(write_status(&written))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(reissued))
}
