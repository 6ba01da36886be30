//! Consents: `POST /v1/consents` (a controller's signed consent statement) answers with the
//! citizen's receipt and secret; `GET /v1/consents/{id}`, its `accesses`, `withdraw` and
//! `erase` take the citizen's secret (or, to read, the token of the consent's controller or
//! of an auditor; to withdraw or erase, the controller's signed statement as the body);
//! `GET /v1/consents?controller=` lists a controller's consents. The rules are the ledger's
//! ([`crate::ledger::consents`]).

use actix_web::{web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::log::Params;
use super::{bearer_token, off_reactor, read_json_body, write_status, AppState, MAX_BODY_BYTES};
use crate::consent::RecordKind;
use crate::error::{Code, Error};
use crate::ledger::consents::Credential;
use crate::ledger::MAX_PAGE;

fn parse_consent_id(id: &str) -> Result<Uuid, Error> {
    super::parse_uuid(Code::InvalidConsentId, id)
}

/// `POST /v1/consents`.
pub async fn record(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let body = read_json_body(&req, body, MAX_BODY_BYTES).await?;
    let (receipt, written) = state.ledger.record_consent(&body).await?;
    Ok(HttpResponse::build(write_status(&written)).json(receipt))
}

/// `GET /v1/consents/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    Params::new(query.into_inner(), &[])?;
    let id = parse_consent_id(&id)?;
    let token = bearer_token(&req);
    let view = off_reactor(&state, move |ledger| ledger.consent(token.as_deref(), id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Appends a withdrawal or erasure of consent `id`: the citizen sends the receipt's secret
/// and nothing else, the controller a signed statement and no `Authorization`.
async fn end(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
    id: &str,
    kind: RecordKind,
) -> Result<HttpResponse, Error> {
    let id = parse_consent_id(id)?;
    let (recorded, written) = if req
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION)
    {
        let token = bearer_token(&req);
        let credential = Credential::Token(token.as_deref());
        state.ledger.end_consent(credential, id, kind).await?
    } else {
        let body = read_json_body(&req, body, MAX_BODY_BYTES).await?;
        let credential = Credential::Statement(&body);
        state.ledger.end_consent(credential, id, kind).await?
    };
    Ok(HttpResponse::build(write_status(&written)).json(recorded))
}

/// `POST /v1/consents/{id}/withdraw`.
pub async fn withdraw(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    end(state, req, body, &id, RecordKind::Withdrawal).await
}

/// `POST /v1/consents/{id}/erase`.
pub async fn erase(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    end(state, req, body, &id, RecordKind::Erasure).await
}

/// `GET /v1/consents?controller=<id>[&after=<index>][&limit=<n>]`, with the participant token
/// of that controller or of an auditor: one seek and one page.
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["controller", "after", "limit"])?;
    let controller = q
        .get("controller")
        .ok_or_else(|| Error::new(Code::InvalidQuery, "missing parameter controller"))
        .and_then(|c| super::parse_uuid(Code::InvalidQuery, c))?;
    let after = q.u64("after")?;
    let limit = q.limit(MAX_PAGE)?;
    let token = super::optional_bearer(&req)?.ok_or_else(|| {
        Error::new(
            Code::Unauthorized,
            "listing consents needs a participant token",
        )
    })?;
    let list = off_reactor(&state, move |ledger| {
        ledger.consents_of(&token, controller, after, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `GET /v1/consents/{id}/accesses[?after=<index>][&limit=<n>]`.
pub async fn accesses(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["after", "limit"])?;
    let after = q.u64("after")?;
    let limit = q.limit(MAX_PAGE)?;
    let id = parse_consent_id(&id)?;
    let token = bearer_token(&req);
    let list = off_reactor(&state, move |ledger| {
        ledger.accesses_of(token.as_deref(), id, after, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}
