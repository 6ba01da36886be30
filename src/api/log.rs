//! Read paths of the log: c2sp.org/tlog-tiles (`/checkpoint`, `/tile/...`) and the JSON API
//! (`/v1/log`, `/v1/entries/{index}`, `/v1/proofs/...`). Everything served is bounded by the
//! latest checkpoint, so a reader never sees an entry that is not yet durable and signed.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{web, HttpResponse};
use base64::prelude::*;
use std::collections::HashMap;

use serde::Serialize;

use super::AppState;
use crate::error::{Code, Error};
use crate::ledger::View;
use crate::log::tiles::TilePath;
use crate::log::Hash;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const SHORT: &str = "public, max-age=5";

fn b64(h: &Hash) -> String {
    BASE64_STANDARD.encode(h.0)
}

/// `GET /checkpoint`: the latest signed checkpoint; on a log with witnesses, the latest
/// that their quorum cosigned (503 `not_witnessed` before the first).
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let cp = state.ledger.served_checkpoint().ok_or_else(|| {
        Error::new(
            Code::NotWitnessed,
            "no checkpoint has been cosigned by the witnesses' quorum yet",
        )
        .retry_after(1)
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((CACHE_CONTROL, SHORT))
        .body(cp.note.clone()))
}

/// `GET /tile/{L}/{N}[.p/{W}]` and `GET /tile/entries/{N}[.p/{W}]`.
pub async fn tile(
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let path = TilePath::parse(&tail).map_err(|e| Error::new(Code::BadTilePath, e.to_string()))?;
    let size = state.ledger.view().size();
    let bytes = web::block(move || state.ledger.view().store().tile(&path, size))
        .await
        .map_err(|_| Error::new(Code::Unavailable, "server shutting down"))??
        .ok_or_else(|| {
            Error::new(
                Code::TileNotFound,
                format!("{} is not in the tree of size {size}", path.path()),
            )
        })?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/octet-stream"))
        .insert_header((
            CACHE_CONTROL,
            if path.is_full() { IMMUTABLE } else { SHORT },
        ))
        .body(bytes))
}

/// The body of `GET /v1/log`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct LogInfo {
    /// The checkpoint origin line.
    pub origin: String,
    /// The signed-note verifier key of the log (`name+id+base64`).
    pub vkey: String,
    /// The log's raw Ed25519 public key (32 bytes, standard base64).
    pub public_key: String,
    /// The size of the latest checkpoint.
    pub size: u64,
    /// The root of the latest checkpoint (standard base64).
    pub root: String,
    /// On a log with witnesses: the quorum, the witnesses and the latest cosigned size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witnessing: Option<WitnessingInfo>,
}

/// How a log is witnessed.
#[derive(Serialize, schemars::JsonSchema)]
pub struct WitnessingInfo {
    /// How many distinct witnesses must cosign a checkpoint before it is served.
    pub quorum: usize,
    /// The size of the latest checkpoint the quorum cosigned (`null` before the first).
    pub cosigned_size: Option<u64>,
    /// The witnesses.
    pub witnesses: Vec<WitnessView>,
}

/// One witness, as the log sees it.
#[derive(Serialize, schemars::JsonSchema)]
pub struct WitnessView {
    /// Its key name.
    pub name: String,
    /// Its base URL (c2sp.org/tlog-witness submission prefix).
    pub url: String,
    /// Its `cosignature/v1` verifier key.
    pub vkey: String,
    /// The size it last cosigned, as far as the log knows (0: not yet known).
    pub size: u64,
    /// Cosignatures obtained since the log started.
    pub cosignatures: u64,
    /// Failed submissions since the log started.
    pub failures: u64,
    /// Milliseconds the last successful submission took.
    pub last_latency_ms: f64,
    /// Mean milliseconds of the successful submissions.
    pub mean_latency_ms: f64,
    /// The last error, if the last submission failed.
    pub last_error: Option<String>,
}

/// The witnessing part of `/v1/log`.
pub fn witnessing_info(state: &AppState) -> Option<WitnessingInfo> {
    let w = state.ledger.witnessing()?;
    let witnesses = w
        .witnesses()
        .map(|(client, stats)| {
            use std::sync::atomic::Ordering::Relaxed;
            let ok = stats.cosigned.load(Relaxed);
            WitnessView {
                name: signed_note::Verifier::name(client.verifier()).to_owned(),
                url: client.base().to_owned(),
                vkey: client.verifier().vkey(),
                size: client.size(),
                cosignatures: ok,
                failures: stats.failures.load(Relaxed),
                last_latency_ms: stats.last_micros.load(Relaxed) as f64 / 1000.0,
                mean_latency_ms: if ok == 0 {
                    0.0
                } else {
                    stats.total_micros.load(Relaxed) as f64 / 1000.0 / ok as f64
                },
                last_error: stats
                    .last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            }
        })
        .collect();
    Some(WitnessingInfo {
        quorum: w.quorum(),
        cosigned_size: w.cosigned().map(|cp| cp.size),
        witnesses,
    })
}

/// `GET /v1/log`.
pub async fn info(state: web::Data<AppState>) -> HttpResponse {
    let signer = state.ledger.log().signer();
    let view = state.ledger.view();
    let latest = view.checkpoint();
    HttpResponse::Ok().json(LogInfo {
        origin: signer.origin().to_owned(),
        vkey: signer.vkey().to_owned(),
        public_key: BASE64_STANDARD.encode(signer.public_key()),
        size: latest.size,
        root: b64(&latest.root),
        witnessing: witnessing_info(&state),
    })
}

/// The body of `GET /v1/entries/{index}`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct EntryView {
    /// The entry's index.
    pub index: u64,
    /// Its RFC 9162 leaf hash (standard base64).
    pub leaf_hash: String,
    /// The leaf bytes (standard base64).
    pub data: String,
    /// The leaf parsed as JSON (`null` if it is not JSON).
    pub entry: serde_json::Value,
}

/// Parses a non-negative integer path parameter: 400 `invalid_index` otherwise.
pub fn parse_u64(field: &str, s: &str) -> Result<u64, Error> {
    s.parse().map_err(|_| {
        Error::new(
            Code::InvalidIndex,
            format!("{field} must be a non-negative integer, got {s:?}"),
        )
    })
}

/// `GET /v1/entries/{index}`.
pub async fn entry(
    state: web::Data<AppState>,
    index: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let index = parse_u64("index", &index)?;
    let view = state.ledger.view();
    let data = view.bytes(index)?.ok_or_else(|| {
        Error::new(
            Code::EntryNotFound,
            format!("index {index} is beyond the log's size {}", view.size()),
        )
    })?;
    let leaf_hash = tlog_tiles::record_hash(&data);
    Ok(HttpResponse::Ok().json(EntryView {
        index,
        leaf_hash: b64(&leaf_hash),
        data: BASE64_STANDARD.encode(&data),
        entry: crate::json::value(&data).unwrap_or(serde_json::Value::Null),
    }))
}

/// Query parameters, checked against the names a route accepts.
pub struct Params(HashMap<String, String>);

impl Params {
    /// Checks the parameters against the names a route takes; repeated ones are refused.
    pub fn new(query: Vec<(String, String)>, allowed: &[&str]) -> Result<Self, Error> {
        let mut params = HashMap::new();
        for (name, value) in query {
            if !allowed.contains(&name.as_str()) {
                return Err(Error::new(
                    Code::InvalidQuery,
                    format!("unknown parameter {name:?}; this route takes {allowed:?}"),
                ));
            }
            if params.insert(name.clone(), value).is_some() {
                return Err(Error::new(
                    Code::InvalidQuery,
                    format!("parameter {name:?} is given more than once"),
                ));
            }
        }
        Ok(Self(params))
    }

    /// The raw value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A non-negative integer parameter, if given: 400 `invalid_query` if malformed.
    pub fn u64(&self, name: &str) -> Result<Option<u64>, Error> {
        self.0
            .get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    Error::new(
                        Code::InvalidQuery,
                        format!("{name} must be a non-negative integer, got {v:?}"),
                    )
                })
            })
            .transpose()
    }

    /// A listing's page size: `limit` if given (1 to `max`), else `max`; 400 `invalid_query`
    /// otherwise.
    pub fn limit(&self, max: usize) -> Result<usize, Error> {
        match self.u64("limit")? {
            None => Ok(max),
            Some(n) if n >= 1 && n <= max as u64 => Ok(n as usize),
            Some(n) => Err(Error::new(
                Code::InvalidQuery,
                format!("limit must be between 1 and {max}, got {n}"),
            )),
        }
    }

    fn required_u64(&self, name: &str) -> Result<u64, Error> {
        self.u64(name)?
            .ok_or_else(|| Error::new(Code::InvalidQuery, format!("missing parameter {name}")))
    }
}

/// The body of `GET /v1/proofs/inclusion`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct InclusionProof {
    /// The leaf's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The leaf hash (standard base64).
    pub leaf_hash: String,
    /// The audit path, leaf to root (standard base64).
    pub hashes: Vec<String>,
}

/// Parses a standard-base64 hash; a `+` turned into a space by form decoding is put back.
fn parse_hash(field: &str, s: &str) -> Result<Hash, Error> {
    let s = s.trim().replace(' ', "+");
    let raw = BASE64_STANDARD.decode(&s).map_err(|e| {
        Error::new(
            Code::BadBase64,
            format!("{field} is not standard base64: {e}"),
        )
    })?;
    let raw: [u8; 32] = raw.try_into().map_err(|v: Vec<u8>| {
        Error::new(
            Code::BadHash,
            format!("{field} must be 32 bytes, not {}", v.len()),
        )
    })?;
    Ok(Hash(raw))
}

/// Checks a requested tree size against the log: `None` means the latest.
fn tree_size(view: &View, requested: Option<u64>, field: &str) -> Result<u64, Error> {
    let size = view.size();
    match requested {
        None => Ok(size),
        Some(n) if n > size => Err(Error::new(
            Code::TreeSizeBeyondLog,
            format!("{field} {n} is beyond the log's size {size}"),
        )),
        Some(n) => Ok(n),
    }
}

/// `GET /v1/proofs/inclusion?index=I[&tree_size=N]` or `?leaf_hash=H[&tree_size=N]`.
pub async fn inclusion(
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["index", "leaf_hash", "tree_size"])?;
    let view = state.ledger.view();
    let size = tree_size(&view, q.u64("tree_size")?, "tree_size")?;
    let (index, leaf_hash) = match (q.u64("index")?, q.0.get("leaf_hash")) {
        (Some(index), None) => {
            if index >= size {
                return Err(Error::new(
                    Code::IndexOutOfRange,
                    format!("index {index} is not in the tree of size {size}"),
                ));
            }
            let data = view
                .bytes(index)?
                .ok_or_else(|| Error::corrupt(format!("missing entry {index}")))?;
            (index, tlog_tiles::record_hash(&data))
        }
        (None, Some(h)) => {
            let hash = parse_hash("leaf_hash", h)?;
            let found = view
                .find_leaf(&hash)?
                .ok_or_else(|| Error::new(Code::LeafNotFound, "no entry has this leaf hash"))?;
            if found >= size {
                return Err(Error::new(
                    Code::LeafNotFound,
                    format!("no entry with this leaf hash in the tree of size {size}"),
                ));
            }
            (found, hash)
        }
        _ => {
            return Err(Error::new(
                Code::InvalidQuery,
                "give exactly one of index and leaf_hash",
            ))
        }
    };
    let proof = view.inclusion_proof(index, size)?;
    Ok(HttpResponse::Ok().json(InclusionProof {
        index,
        tree_size: size,
        leaf_hash: b64(&leaf_hash),
        hashes: proof.iter().map(b64).collect(),
    }))
}

/// The body of `GET /v1/proofs/consistency`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// The RFC 9162 consistency proof (standard base64).
    pub hashes: Vec<String>,
}

/// `GET /v1/proofs/consistency?from=M&to=N`.
pub async fn consistency(
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, Error> {
    let q = Params::new(query.into_inner(), &["from", "to"])?;
    let from = q.required_u64("from")?;
    let view = state.ledger.view();
    let to = tree_size(&view, Some(q.required_u64("to")?), "to")?;
    if from == 0 || from > to {
        return Err(Error::new(
            Code::InvalidRange,
            format!("no consistency proof from {from} to {to}: need 0 < from <= to"),
        ));
    }
    let proof = view.consistency_proof(from, to)?;
    Ok(HttpResponse::Ok().json(ConsistencyProof {
        from,
        to,
        hashes: proof.iter().map(b64).collect(),
    }))
}
