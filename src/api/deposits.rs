//! Dataset deposits: `POST /v1/deposits` (a DSSE-signed deposit statement from a depositor),
//! and the searches `GET /v1/deposits?sha256=` and `GET /v1/datasets/{dataset_id}`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rand::RngCore;
use serde::Serialize;
use uuid::Uuid;

use super::log::Params;
use super::participants::lookup_participant;
use super::receipts::build_receipt;
use super::statements::{check_fresh, parse_payload, read_statement};
use super::{off_reactor, Against, AppState};
use crate::error::{Code, Error};
use crate::field;
use crate::log::sequencer::AppendError;
use crate::log::store::{Index, IndexKey};
use crate::log::AppendRequest;
use crate::participant::Role;
use crate::receipt::{PrivateSidecar, Receipt};
use crate::statement::deposit::{
    Deposit, DepositLeaf, DepositPayload, Placement, Visibility, DEPOSIT_TYPE,
};

/// How many concurrent new versions of one dataset a deposit retries past.
const VERSION_RETRIES: usize = 16;
/// The most deposits a search lists in one page.
pub const MAX_RESULTS: usize = 1000;
/// The most versions `GET /v1/datasets/{id}` lists in one page.
pub const MAX_VERSIONS: usize = 1000;

/// The answer to a deposit.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DepositAccepted {
    /// The dataset.
    pub dataset_id: Uuid,
    /// This deposit's version of it.
    pub version: u64,
    /// The entry's index.
    pub index: u64,
    /// True when this content was already deposited: the existing entry is returned.
    pub duplicate: bool,
    /// The receipt (with the statement and salt of a private deposit).
    pub receipt: Receipt,
}

/// A deposit as listed by searches: the fields that are on the public log.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DepositSummary {
    /// The entry's index.
    pub index: u64,
    /// The dataset.
    pub dataset_id: Uuid,
    /// The version.
    pub version: u64,
    /// The depositor's participant id.
    pub depositor: Uuid,
    /// The dataset's controller, whose consents may cover it.
    pub controller: Uuid,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// `public` or `private`.
    pub visibility: Visibility,
    /// When the log accepted it.
    pub deposited_at: String,
}

impl From<(u64, DepositLeaf)> for DepositSummary {
    fn from((index, l): (u64, DepositLeaf)) -> Self {
        Self {
            index,
            dataset_id: l.dataset_id,
            version: l.version,
            depositor: l.depositor,
            controller: l.controller(),
            sha256: l.sha256,
            size: l.size,
            visibility: l.visibility,
            deposited_at: l.deposited_at,
        }
    }
}

/// `GET /v1/deposits?sha256=<hex>[&after=<index>][&limit=<n>]`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DepositList {
    /// The content searched for.
    pub sha256: String,
    /// Its deposits, oldest first, after the `after` entry if given (at most `limit`, 1,000 by
    /// default and at most).
    pub deposits: Vec<DepositSummary>,
    /// True when there are more: ask again with `after` = the last index listed.
    pub truncated: bool,
}

/// `GET /v1/datasets/{dataset_id}[?after=<version>][&limit=<n>]`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DatasetView {
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its depositor.
    pub depositor: Uuid,
    /// Its controller: the depositor, or the controller its first version named.
    pub controller: Uuid,
    /// Its versions, first to latest, after version `after` if given (at most `limit`, 1,000 by
    /// default and at most).
    pub versions: Vec<DepositSummary>,
    /// True when there are more: ask again with `after` = the last version listed.
    pub truncated: bool,
}

pub(crate) fn read_deposit(state: &AppState, index: u64) -> Result<Option<DepositLeaf>, Error> {
    if index >= state.log.latest().size {
        return Ok(None);
    }
    let data = state.entry(index)?;
    Ok(DepositLeaf::from_bytes(&data))
}

/// A `DatasetVersion` key's version number.
fn version_of(key: &[u8]) -> Option<u64> {
    let v: [u8; 8] = key.get(16..24)?.try_into().ok()?;
    Some(u64::from_be_bytes(v))
}

/// The leaf index of a dataset's first version, if it has one (published or not).
pub(crate) fn first_version(state: &AppState, dataset: Uuid) -> Result<Option<u64>, Error> {
    Ok(state
        .log
        .store()
        .scan(Index::DatasetVersion, dataset.as_bytes(), None, 1)?
        .first()
        .map(|&(_, index)| index))
}

/// A dataset's latest version number, if it has one (published or not): one seek.
fn last_version(state: &AppState, dataset: Uuid) -> Result<Option<u64>, Error> {
    Ok(state
        .log
        .store()
        .last(Index::DatasetVersion, dataset.as_bytes())?
        .and_then(|(key, _)| version_of(&key)))
}

/// A published dataset's first version; `None` if there is no such dataset on the log (or its
/// first version is not published yet).
pub(crate) fn published_dataset(
    state: &AppState,
    dataset: Uuid,
) -> Result<Option<DepositLeaf>, Error> {
    match first_version(state, dataset)? {
        Some(index) => read_deposit(state, index),
        None => Ok(None),
    }
}

pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// 503 `pending`: an entry the answer depends on is written but its checkpoint is not
/// published yet (its batch is being flushed, or a failed flush awaits the next commit).
pub(crate) fn pending() -> Error {
    Error::new(
        Code::Pending,
        "an entry this request depends on is being committed; retry shortly",
    )
}

/// 422 `controller_mismatch`: a later version names another controller than the dataset's.
fn controller_fixed(dataset: Uuid, controller: Uuid) -> Error {
    Error::new(
        Code::ControllerMismatch,
        format!(
            "payload.controller: dataset {dataset}'s controller is {controller}, fixed by its \
             first version"
        ),
    )
}

/// The answer for an existing entry, which a deposit under `controller` repeats. Its receipt
/// has no private opening: a replayed statement must not obtain it; the depositor reads it
/// with its participant token.
fn existing(
    state: &AppState,
    index: u64,
    controller: Uuid,
    status: StatusCode,
) -> Result<HttpResponse, Error> {
    if index >= state.log.latest().size {
        return Err(pending());
    }
    let leaf = read_deposit(state, index)?.ok_or_else(|| {
        Error::from(crate::log::StoreError::Corrupt(format!(
            "entry {index} is not a deposit"
        )))
    })?;
    // The same content under another controller is not the same deposit: one content, one
    // dataset, one controller.
    if leaf.controller() != controller {
        return Err(Error::new(
            Code::DuplicateContent,
            format!(
                "this content is already dataset {} (entry {index}) under controller {}; \
                 deposit it as a new version of that dataset or under the same controller",
                leaf.dataset_id,
                leaf.controller()
            ),
        ));
    }
    let basis = state.receipt_basis();
    let receipt = build_receipt(state, index, basis.against(index), false)?;
    Ok(HttpResponse::build(status).json(DepositAccepted {
        dataset_id: leaf.dataset_id,
        version: leaf.version,
        index,
        duplicate: true,
        receipt,
    }))
}

/// `POST /v1/deposits`.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let signed = read_statement(&state, &req, body, DEPOSIT_TYPE, Role::Depositor).await?;
    let payload: DepositPayload = parse_payload(&signed.payload)?;
    let deposit =
        Deposit::try_from(&payload).map_err(|e| Error::invalid_field(format!("payload.{e}")))?;
    let store = state.log.store();
    let depositor = signed.signer.id;
    let nonce_key = check_fresh(&state, depositor, &deposit.freshness)?;
    // Duplicates are the same content with the same visibility: depositing private content
    // again as public is a new deposit, not the private one handed back.
    let vis = match deposit.visibility {
        Visibility::Public => b'p',
        Visibility::Private => b's',
    };
    let (dataset_id, duplicate_key, controller) = match deposit.dataset_id {
        Some(d) => {
            let first = first_version(&state, d)?
                .ok_or_else(|| Error::new(Code::DatasetNotFound, format!("no dataset {d}")))?;
            let first = read_deposit(&state, first)?.ok_or_else(pending)?;
            if first.depositor != depositor {
                return Err(Error::new(
                    Code::NotDatasetOwner,
                    format!("dataset {d} belongs to another depositor"),
                ));
            }
            let controller = first.controller();
            if deposit.controller.is_some_and(|c| c != controller) {
                return Err(controller_fixed(d, controller));
            }
            let key = cat(&[depositor.as_bytes(), d.as_bytes(), &deposit.sha256, &[vis]]);
            (d, IndexKey::new(Index::DatasetContent, key), controller)
        }
        None => {
            let controller = match deposit.controller {
                None => depositor,
                Some(c) if c == depositor => depositor,
                Some(c) => {
                    let is_controller = lookup_participant(&state, c)?
                        .is_some_and(|(_, p)| p.roles.contains(&Role::Controller));
                    if !is_controller {
                        return Err(Error::new(
                            Code::UnknownController,
                            format!(
                                "payload.controller: {c} is not a registered participant with \
                                 the controller role"
                            ),
                        ));
                    }
                    c
                }
            };
            let key = cat(&[depositor.as_bytes(), &deposit.sha256, &[vis]]);
            (
                Uuid::now_v7(),
                IndexKey::new(Index::NewDatasetContent, key),
                controller,
            )
        }
    };
    if let Some(index) = store.lookup(&duplicate_key)? {
        return existing(&state, index, controller, StatusCode::OK);
    }

    for _ in 0..VERSION_RETRIES {
        let version = match deposit.dataset_id {
            Some(d) => last_version(&state, d)?.map_or(1, |v| v + 1),
            None => 1,
        };
        let mut salt = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let place = Placement {
            dataset_id,
            version,
            depositor,
            controller,
        };
        let leaf = DepositLeaf::new(&deposit, &signed.envelope, &salt, place, chrono::Utc::now());
        let sidecar = (deposit.visibility == Visibility::Private)
            .then(|| PrivateSidecar::statement(&salt, signed.envelope.clone()).to_bytes());
        let mut unique = vec![
            nonce_key.clone(),
            IndexKey::new(
                Index::DatasetVersion,
                cat(&[dataset_id.as_bytes(), &version.to_be_bytes()]),
            ),
            duplicate_key.clone(),
        ];
        if deposit.dataset_id.is_none() {
            // The first version also answers later deposits of this content to this dataset.
            unique.push(IndexKey::new(
                Index::DatasetContent,
                cat(&[
                    depositor.as_bytes(),
                    dataset_id.as_bytes(),
                    &deposit.sha256,
                    &[vis],
                ]),
            ));
        }
        let request = AppendRequest {
            entry: leaf.to_bytes(),
            unique,
            index: Vec::new(),
            listed: vec![IndexKey::new(
                Index::DepositContent,
                deposit.sha256.to_vec(),
            )],
            sidecar,
            ..AppendRequest::default()
        };
        match state.log.append(request).await {
            Ok(appended) => {
                tracing::info!(%dataset_id, version, index = appended.index, "deposit notarised");
                let (checkpoint, witnessed) = state.after_append(&appended).await;
                let against = Against {
                    checkpoint: &checkpoint,
                    witnessed,
                };
                let receipt = build_receipt(&state, appended.index, against, true)?;
                let status = AppState::write_status(witnessed);
                return Ok(HttpResponse::build(status).json(DepositAccepted {
                    dataset_id,
                    version,
                    index: appended.index,
                    duplicate: false,
                    receipt,
                }));
            }
            Err(AppendError::Conflict(Index::DatasetVersion)) => continue,
            Err(AppendError::Conflict(Index::DatasetContent | Index::NewDatasetContent)) => {
                let index = store
                    .lookup(&duplicate_key)?
                    .ok_or_else(|| Error::new(Code::Conflict, "a concurrent deposit won; retry"))?;
                return existing(&state, index, controller, StatusCode::OK);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::new(
        Code::Conflict,
        "too many concurrent versions of this dataset; retry",
    ))
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
    let limit = q.limit(MAX_RESULTS)?;
    let list = off_reactor(&state, move |state| {
        let (found, truncated) = super::page(state, Index::DepositContent, &sha, after, limit)?;
        let mut deposits = Vec::with_capacity(found.len().min(limit));
        for &index in &found {
            if let Some(leaf) = read_deposit(state, index)? {
                deposits.push(DepositSummary::from((index, leaf)));
            }
        }
        Ok(DepositList {
            sha256: field::hex(&sha),
            deposits,
            truncated,
        })
    })
    .await?;
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
    let limit = q.limit(MAX_VERSIONS)?;
    let view = off_reactor(&state, move |state| {
        let first = published_dataset(state, id)?
            .ok_or_else(|| Error::new(Code::DatasetNotFound, format!("no dataset {id}")))?;
        let (found, truncated) =
            super::page(state, Index::DatasetVersion, id.as_bytes(), after, limit)?;
        let mut versions = Vec::with_capacity(found.len().min(limit));
        for &index in &found {
            if let Some(leaf) = read_deposit(state, index)? {
                versions.push(DepositSummary::from((index, leaf)));
            }
        }
        Ok(DatasetView {
            dataset_id: id,
            depositor: first.depositor,
            controller: first.controller(),
            versions,
            truncated,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
