//! The archive's custody rules over the log: opening an upload for a signed deposit
//! statement, archiving the checked bytes (the deposit and its `storage` entry), handing them
//! out (to the depositor, or under a permit that still holds, each download logged first),
//! legal holds, disposal at the end of the retention (a `disposal` entry that destroys the
//! object's key with it), and reading a dataset's custody chain. The bytes themselves are the
//! archive's ([`crate::archive`]); the scrubber's runs are in `fixity`.
//!
//! The order of every write makes a crash harmless: an object is written to every location's
//! `incoming/` (synced) before its `storage` entry is appended, and committed (locked for its
//! retention) only after; a disposal is logged before any copy is deleted. At start,
//! [`Ledger::reconcile_archive`] finishes what a crash interrupted, from the log.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::deposits::{deposit_at, DepositAccepted};
use super::{encode, keys, refused, Ledger, View, Written};
use crate::archive::crypt::{self, ObjectKey};
use crate::archive::uploads::{Handle, Session, Staged, Ticket, UploadError};
use crate::archive::{Archive, ArchiveError, ObjectId};
use crate::archive::{Location, Lock, Written as StoredBytes};
use crate::consent::time;
use crate::custody::{
    CustodyKind, CustodyLeaf, DisposalLeaf, DownloadLeaf, LegalHoldLeaf, StorageLeaf,
};
use crate::decision::{decide, AccessFacts, Verdict};
use crate::entry::Entry;
use crate::error::{Code, Error};
use crate::field;
use crate::log::{AppendError, AppendRequest};
use crate::participant::ParticipantLeaf;
use crate::receipt::Receipt;
use crate::statement::access::{Action, LegalBasis};
use crate::statement::deposit::{DepositLeaf, Visibility};

/// A session's lock, held by the request that writes to it.
pub type SessionGuard = tokio::sync::OwnedMutexGuard<Session>;

/// `POST /v1/uploads`: the session opened.
#[derive(Serialize, schemars::JsonSchema)]
pub struct UploadOpened {
    /// The session's id: `PATCH /v1/uploads/{upload_id}` sends the bytes.
    pub upload_id: Uuid,
    /// Bytes received so far.
    pub offset: u64,
    /// Bytes expected (the statement's `size`).
    pub size: u64,
    /// When the session expires if no byte arrives (RFC 3339).
    pub expires_at: String,
}

/// A custody entry and its receipt.
#[derive(Serialize, schemars::JsonSchema)]
pub struct CustodyReceipt {
    /// The entry's index.
    pub index: u64,
    /// Its receipt.
    pub receipt: Receipt,
}

/// What was archived.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ArchivedObject {
    /// The object's id.
    pub object_id: Uuid,
    /// Stored encrypted (a private dataset).
    pub encrypted: bool,
    /// Its `storage` entry.
    pub custody: CustodyReceipt,
}

/// The answer to the `PATCH` that completes an upload: the deposit (as `POST /v1/deposits`
/// answers it) and the object's `storage` entry.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Archived {
    /// The deposit.
    #[serde(flatten)]
    pub deposit: DepositAccepted,
    /// The archived object.
    pub object: ArchivedObject,
}

/// A download, authorised and logged: where to read, and the `download` entry.
pub struct Download {
    /// The plaintext, positioned at the range's start.
    pub reader: Box<dyn Read + Send>,
    /// The bytes to send.
    pub length: u64,
    /// The range sent, as `(start, end inclusive, total)`, or `None` for the whole object.
    pub range: Option<(u64, u64, u64)>,
    /// The media type the depositor declared (public datasets), else
    /// `application/octet-stream`.
    pub media_type: String,
    /// The SHA-256 of the whole plaintext, hex (the deposit's).
    pub sha256: String,
    /// The `download` entry's index.
    pub custody_index: u64,
}

/// A byte range a client asked for: `start..=end`, or from `start` to the end, or the last
/// `suffix` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b` or `bytes=a-`.
    From {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: Option<u64>,
    },
    /// `bytes=-n`.
    Suffix(u64),
}

impl ByteRange {
    /// Reads a `Range` header's value: one `bytes=` range.
    pub fn parse(value: &str) -> Option<Self> {
        let spec = value.trim().strip_prefix("bytes=")?;
        if spec.contains(',') {
            return None;
        }
        let (a, b) = spec.trim().split_once('-')?;
        let num = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        if a.is_empty() {
            return num(b).filter(|&n| n > 0).map(ByteRange::Suffix);
        }
        let start = num(a)?;
        let end = if b.is_empty() { None } else { Some(num(b)?) };
        if end.is_some_and(|e| e < start) {
            return None;
        }
        Some(ByteRange::From { start, end })
    }

    /// `(start, end inclusive)` within an object of `total` bytes; `None` if unsatisfiable.
    pub fn within(self, total: u64) -> Option<(u64, u64)> {
        if total == 0 {
            return None;
        }
        match self {
            ByteRange::From { start, end } if start < total => {
                Some((start, end.map_or(total - 1, |e| e.min(total - 1))))
            }
            ByteRange::From { .. } => None,
            ByteRange::Suffix(n) => Some((total - n.min(total), total - 1)),
        }
    }

    /// The header form, `bytes=a-b`, of the satisfied range.
    fn text(start: u64, end: u64) -> String {
        format!("bytes={start}-{end}")
    }
}

/// Who disposes of an object.
#[derive(Debug, Clone, Copy)]
pub enum Disposer<'a> {
    /// The depositor, with its token.
    Depositor(&'a ParticipantLeaf),
    /// The operator's retention policy (the admin token).
    Operator,
}

/// An archived dataset version as the log records it: its `storage` entry and its state.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The `storage` entry's index.
    pub index: u64,
    /// The entry.
    pub leaf: StorageLeaf,
    /// Its `disposal` entry, if it was disposed of.
    pub disposed: Option<u64>,
    /// Under a legal hold.
    pub held: bool,
}

impl Stored {
    /// The object id.
    pub fn object(&self) -> ObjectId {
        ObjectId::from(self.leaf.object)
    }

    /// What its copies must hold.
    pub fn bytes(&self) -> Result<StoredBytes, Error> {
        let sha256 = field::sha256_hex("sha256", &self.leaf.sha256).map_err(|_| {
            Error::corrupt(format!("storage entry {} has a bad sha256", self.index))
        })?;
        Ok(StoredBytes {
            size: self.leaf.size,
            sha256,
        })
    }

    /// Its retention end.
    pub fn retain_until(&self) -> Option<DateTime<Utc>> {
        self.leaf
            .retain_until
            .as_deref()
            .and_then(crate::custody::parse_time)
    }
}

fn archive_error(e: ArchiveError) -> Error {
    match e {
        ArchiveError::Retained { until } => Error::new(
            Code::RetentionActive,
            format!("the object is retained until {}", time(until)),
        ),
        ArchiveError::Held => Error::new(Code::LegalHold, "the object is under a legal hold"),
        e => {
            tracing::error!(error = %e, "archive failure");
            Error::new(Code::ArchiveUnavailable, format!("archive: {e}"))
        }
    }
}

fn upload_error(e: UploadError) -> Error {
    match e {
        UploadError::NotFound(id) => Error::new(
            Code::UploadNotFound,
            format!("no open upload session {id} (expired, finished or never opened)"),
        ),
        e @ UploadError::Offset { .. } => Error::new(Code::OffsetMismatch, e.to_string()),
        e @ UploadError::TooLong { .. } => Error::new(Code::UploadTooLong, e.to_string()),
        e @ UploadError::Busy(_) => Error::new(Code::UploadBusy, e.to_string()),
        e @ UploadError::Digest { .. } => Error::new(
            Code::ContentMismatch,
            format!("{e}; nothing was logged and the bytes are deleted"),
        ),
        e @ UploadError::NonceInUse => Error::new(Code::Replayed, e.to_string()),
        e @ UploadError::Incomplete { .. } => Error::new(Code::Conflict, e.to_string()),
        e @ (UploadError::Io { .. } | UploadError::Crypto(_)) => {
            tracing::error!(error = %e, "upload staging failure");
            Error::new(Code::ArchiveUnavailable, format!("archive: {e}"))
        }
    }
}

/// The end of a retention given at `from`: an ISO 8601 duration after it, or the end of a
/// calendar date (UTC).
pub fn retention_end(retention: &str, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(retention, "%Y-%m-%d") {
        return date
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
    }
    field::IsoDuration::parse(retention)?.after(from)
}

impl Ledger {
    /// The archive; 404 `not_found` on a server run without one.
    pub fn archive(&self) -> Result<&Arc<Archive>, Error> {
        self.archive
            .as_ref()
            .ok_or_else(|| Error::new(Code::NotFound, "this server keeps no archive"))
    }

    /// The archived object of a dataset version, as the log records it (published or not).
    pub fn stored(&self, dataset: Uuid, version: u64) -> Result<Option<Stored>, Error> {
        match self.taken(&keys::archived_version(dataset, version))? {
            Some(index) => self.stored_at(index).map(Some),
            None => Ok(None),
        }
    }

    /// The `storage` entry at `index` and its object's state.
    pub fn stored_at(&self, index: u64) -> Result<Stored, Error> {
        let bytes = self
            .log
            .store()
            .entries(index, index + 1)?
            .pop()
            .ok_or_else(|| Error::corrupt(format!("no entry {index}")))?;
        let leaf = match Entry::from_bytes(&bytes) {
            Ok(Entry::Custody(CustodyLeaf::Storage(leaf))) => leaf,
            _ => {
                return Err(Error::corrupt(format!(
                    "entry {index} is not a storage entry"
                )))
            }
        };
        let disposed = self.taken(&keys::object_disposal(leaf.object))?;
        let held = match self.taken(&keys::object_hold(leaf.object))? {
            None => false,
            Some(h) => matches!(
                self.log.store().entries(h, h + 1)?.pop().map(|b| Entry::from_bytes(&b)),
                Some(Ok(Entry::Custody(CustodyLeaf::LegalHold(l)))) if l.hold
            ),
        };
        Ok(Stored {
            index,
            leaf,
            disposed,
            held,
        })
    }

    /// Appends a custody entry and answers its receipt.
    pub(super) async fn append_custody(
        &self,
        leaf: CustodyLeaf,
        request: AppendRequest,
    ) -> Result<(CustodyReceipt, Written), AppendError> {
        // The receipt is over the very bytes appended.
        let bytes = request.entry.clone();
        let settled = self.append(request).await?;
        let index = settled.written.index;
        let receipt = self
            .written_receipt(index, &Entry::Custody(leaf), &bytes, None, &settled.against)
            .map_err(|e| AppendError::Storage(e.message().to_owned()))?;
        Ok((CustodyReceipt { index, receipt }, settled.written))
    }

    /// `POST /v1/uploads`: checks a deposit statement as `POST /v1/deposits` would (its
    /// signature, the signer's role, freshness and nonce, where it goes), that the token is
    /// the signer's, the size against the limits and the quota, and that the version has no
    /// archived object yet; then opens a session for its bytes.
    pub fn open_upload(&self, token: &str, body: &[u8]) -> Result<UploadOpened, Error> {
        let archive = self.archive()?.clone();
        let participant = self.authenticate(&self.view(), token)?;
        let now = Utc::now();
        let checked = self.check_deposit(body, now)?;
        if checked.signed.signer.id != participant.id {
            return Err(Error::new(
                Code::NotStatementSigner,
                format!(
                    "the statement is signed by {}, not by the token's participant {}",
                    checked.signed.signer.id, participant.id
                ),
            ));
        }
        let size = checked.deposit.size;
        let limits = archive.limits();
        if size > limits.max_object {
            return Err(Error::new(
                Code::ObjectTooLarge,
                format!(
                    "payload.size {size} exceeds the archive's largest object, {} bytes",
                    limits.max_object
                ),
            ));
        }
        if let Some((dataset, version)) = self.duplicate_of(&checked)? {
            if self.stored(dataset, version)?.is_some() {
                return Err(already_archived(dataset, version));
            }
        }
        let used = archive
            .counts()
            .usage
            .get(&participant.id)
            .copied()
            .unwrap_or(0)
            + archive.uploads().reserved(participant.id);
        if used.saturating_add(size) > limits.quota {
            return Err(Error::new(
                Code::QuotaExceeded,
                format!(
                    "{used} bytes archived or uploading plus {size} would exceed the quota of {} bytes",
                    limits.quota
                ),
            ));
        }
        let ticket = Ticket {
            v: 1,
            id: Uuid::new_v4(),
            participant: participant.id,
            nonce: checked.deposit.freshness.nonce.clone(),
            size,
            sha256: field::hex(&checked.deposit.sha256),
            private: checked.deposit.visibility == Visibility::Private,
            statement: String::from_utf8_lossy(body).into_owned(),
            opened_at: now,
        };
        let upload_id = ticket.id;
        archive
            .uploads()
            .open_session(ticket)
            .map_err(upload_error)?;
        tracing::info!(upload = %upload_id, size, "upload opened");
        Ok(UploadOpened {
            upload_id,
            offset: 0,
            size,
            expires_at: time(now + archive.uploads().idle()),
        })
    }

    /// The dataset version an already deposited content of this statement is, if any.
    fn duplicate_of(
        &self,
        checked: &super::deposits::CheckedDeposit,
    ) -> Result<Option<(Uuid, u64)>, Error> {
        let Some(index) = self.taken(checked.duplicate_key())? else {
            return Ok(None);
        };
        let view = self.view();
        Ok(deposit_at(&view, index)?.map(|l| (l.dataset_id, l.version)))
    }

    /// An open session, for the token's participant only (another's is answered as absent).
    pub fn upload(&self, token: &str, id: Uuid) -> Result<Handle, Error> {
        let archive = self.archive()?;
        let participant = self.authenticate(&self.view(), token)?;
        let status = archive.uploads().status(id).map_err(upload_error)?;
        if status.ticket.participant != participant.id {
            return Err(upload_error(UploadError::NotFound(id)));
        }
        archive.uploads().get(id).map_err(upload_error)
    }

    /// `HEAD`/`GET /v1/uploads/{id}`: where the token's participant's session stands (the
    /// offset last synced, even while a request writes to it).
    pub fn upload_status(&self, token: &str, id: Uuid) -> Result<UploadOpened, Error> {
        let archive = self.archive()?;
        let participant = self.authenticate(&self.view(), token)?;
        let status = archive.uploads().status(id).map_err(upload_error)?;
        if status.ticket.participant != participant.id {
            return Err(upload_error(UploadError::NotFound(id)));
        }
        let handle = archive.uploads().get(id).map_err(upload_error)?;
        // Idle since its last byte; a session being written to is not idle at all.
        let expires = match handle.try_lock() {
            Ok(session) => session.expires_at(archive.uploads().idle()),
            Err(_) => Utc::now() + archive.uploads().idle(),
        };
        Ok(UploadOpened {
            upload_id: id,
            offset: status.offset,
            size: status.ticket.size,
            expires_at: time(expires),
        })
    }

    /// `DELETE /v1/uploads/{id}`: abandons a session and deletes its bytes.
    pub fn abandon_upload(&self, token: &str, id: Uuid) -> Result<(), Error> {
        self.upload(token, id)?;
        self.archive()?.uploads().remove(id);
        Ok(())
    }

    /// Completes a session whose bytes are all in: checks them against the statement, writes
    /// the object to every location, logs the deposit (or finds it already logged) and the
    /// object's `storage` entry, then commits the object under its retention. Whatever fails,
    /// the session is gone and nothing of the object is left but what the log names.
    pub async fn complete_upload(
        &self,
        mut session: SessionGuard,
    ) -> Result<(Archived, Written), Error> {
        let archive = self.archive()?.clone();
        let id = session.ticket().id;
        let staged = {
            let archive = archive.clone();
            blocking(move || archive.uploads().finish(&mut session).map_err(upload_error)).await?
        };
        let result = self.archive_staged(&archive, staged).await;
        archive.uploads().remove(id);
        result
    }

    async fn archive_staged(
        &self,
        archive: &Arc<Archive>,
        staged: Staged,
    ) -> Result<(Archived, Written), Error> {
        let checked =
            self.check_deposit(staged.ticket.statement.as_bytes(), staged.ticket.opened_at)?;
        if let Some((dataset, version)) = self.duplicate_of(&checked)? {
            if self.stored(dataset, version)?.is_some() {
                return Err(already_archived(dataset, version));
            }
        }
        let retention = checked.payload.retention.clone();
        let object = ObjectId::new();
        let stored = staged.stored;
        {
            let archive = archive.clone();
            let path = staged.path.clone();
            blocking(move || write_incoming(&archive, object, &path, &stored)).await?;
        }
        let discard = |archive: &Arc<Archive>| {
            for loc in archive.locations() {
                let _ = loc.discard_incoming(object);
            }
        };
        let (deposit, written) = match self.write_deposit(checked).await {
            Ok(d) => d,
            Err(e) => {
                discard(archive);
                return Err(e);
            }
        };
        if self.stored(deposit.dataset_id, deposit.version)?.is_some() {
            discard(archive);
            return Err(already_archived(deposit.dataset_id, deposit.version));
        }
        let now = Utc::now();
        let retain_until = retention.as_deref().and_then(|r| retention_end(r, now));
        let leaf = StorageLeaf {
            v: 1,
            kind: CustodyKind::Storage,
            object: *object.as_uuid(),
            dataset_id: deposit.dataset_id,
            version: deposit.version,
            deposit: deposit.index,
            encrypted: staged.key.is_some(),
            locations: archive
                .locations()
                .iter()
                .map(|l| l.name().to_owned())
                .collect(),
            sha256: field::hex(&stored.sha256),
            size: stored.size,
            retain_until: retain_until.map(time),
            time: time(now),
        };
        let leaf = CustodyLeaf::Storage(leaf);
        let request = AppendRequest {
            entry: leaf.to_bytes().map_err(encode)?,
            unique: vec![
                keys::object_storage(*object.as_uuid()),
                keys::archived_version(deposit.dataset_id, deposit.version),
            ],
            listed: vec![
                keys::dataset_custody(deposit.dataset_id),
                keys::archive_objects(),
            ],
            sidecar: staged.key.as_ref().map(|k| k.to_bytes().to_vec()),
            ..AppendRequest::default()
        };
        let (custody, storage_written) = match self.append_custody(leaf, request).await {
            Ok(done) => done,
            Err(AppendError::Conflict(i)) if keys::Taken::of(i) == keys::Taken::Archived => {
                discard(archive);
                return Err(already_archived(deposit.dataset_id, deposit.version));
            }
            Err(e @ AppendError::Storage(_)) => {
                // The entry may yet be durable: start-up commits or discards the copies.
                return Err(refused(e));
            }
            Err(e) => {
                discard(archive);
                return Err(refused(e));
            }
        };
        {
            let archive = archive.clone();
            let lock = Lock {
                retain_until,
                hold: false,
            };
            blocking(move || {
                for loc in archive.locations() {
                    loc.promote(object, &lock).map_err(archive_error)?;
                }
                Ok(())
            })
            .await?;
        }
        {
            let depositor = staged.ticket.participant;
            let mut counts = archive.counts();
            *counts.usage.entry(depositor).or_default() += stored.size;
            counts.objects += 1;
        }
        tracing::info!(object = %object, dataset = %deposit.dataset_id, version = deposit.version, "archived");
        let written = written.unwrap_or(storage_written);
        Ok((
            Archived {
                deposit,
                object: ArchivedObject {
                    object_id: *object.as_uuid(),
                    encrypted: staged.key.is_some(),
                    custody,
                },
            },
            Written {
                index: written.index,
                witnessed: storage_written.witnessed,
            },
        ))
    }

    /// `GET /v1/datasets/{id}/versions/{v}/content`: authorises a download (the depositor;
    /// anyone else with a permit of its own for `download` of this dataset that still holds,
    /// its consents checked again now), logs the `download` entry, then opens the bytes.
    pub async fn download(
        &self,
        token: &str,
        dataset: Uuid,
        version: u64,
        access: Option<Uuid>,
        range: Option<ByteRange>,
    ) -> Result<Download, Error> {
        let archive = self.archive()?.clone();
        let view = self.view();
        let reader = self.authenticate(&view, token)?;
        let (stored, deposit) = self.published_object(&view, dataset, version)?;
        let mut absent = Vec::new();
        let mut consents = Vec::new();
        let access = if reader.id == deposit.depositor {
            None
        } else {
            let Some(access) = access else {
                return Err(forbidden(
                    "only the depositor downloads without an access decision: add ?access=<id> of a permit for download",
                ));
            };
            let cited = self.permit_holds(&view, &reader, access, dataset)?;
            for c in &cited {
                absent.push(keys::consent_withdrawn(*c));
                absent.push(keys::consent_erased(*c));
            }
            consents = cited;
            Some(access)
        };
        drop(view);
        let total = deposit.size;
        let span = match range {
            None => None,
            Some(r) => Some(r.within(total).ok_or_else(|| {
                Error::new(
                    Code::RangeNotSatisfiable,
                    format!("the range is not within the object's {total} bytes"),
                )
            })?),
        };
        let key = if stored.leaf.encrypted {
            let bytes = self.log.store().sidecar(stored.index)?.ok_or_else(|| {
                Error::corrupt(format!("object {} has lost its key", stored.leaf.object))
            })?;
            Some(ObjectKey::from_bytes(&bytes).map_err(archive_error)?)
        } else {
            None
        };
        // Open before logging: an object that cannot be read is not logged as handed out.
        let opened = {
            let archive = archive.clone();
            let object = stored.object();
            let expect = stored.bytes()?;
            blocking(move || open_plaintext(&archive, object, &expect, key.as_ref(), span)).await?
        };
        let leaf = CustodyLeaf::Download(DownloadLeaf {
            v: 1,
            kind: CustodyKind::Download,
            object: stored.leaf.object,
            dataset_id: dataset,
            version,
            by: reader.id,
            access,
            range: span.map(|(a, b)| ByteRange::text(a, b)),
            time: time(Utc::now()),
        });
        let mut listed = vec![keys::dataset_custody(dataset)];
        listed.extend(consents.iter().map(|c| keys::consent_downloads(*c)));
        let request = AppendRequest {
            entry: leaf.to_bytes().map_err(encode)?,
            listed,
            absent,
            ..AppendRequest::default()
        };
        let (custody, _) = self
            .append_custody(leaf, request)
            .await
            .map_err(|e| match e {
                AppendError::Conflict(_) => {
                    forbidden("a consent the permit relies on ended meanwhile")
                }
                e => refused(e),
            })?;
        let media_type = match &deposit.statement {
            Some(st) => st
                .check()
                .ok()
                .and_then(|(p, _)| {
                    crate::statement::deposit::DepositPayload::from_statement_bytes(&p).ok()
                })
                .map(|p| p.media_type)
                .unwrap_or_else(|| "application/octet-stream".into()),
            None => "application/octet-stream".into(),
        };
        Ok(Download {
            reader: opened,
            length: span.map_or(total, |(a, b)| b - a + 1),
            range: span.map(|(a, b)| (a, b, total)),
            media_type,
            sha256: deposit.sha256.clone(),
            custody_index: custody.index,
        })
    }

    /// A published dataset version's live object and its deposit.
    fn published_object(
        &self,
        view: &View,
        dataset: Uuid,
        version: u64,
    ) -> Result<(Stored, DepositLeaf), Error> {
        let none = || {
            Error::new(
                Code::ObjectNotFound,
                format!("dataset {dataset} version {version} has no archived object"),
            )
        };
        let stored = self.stored(dataset, version)?.ok_or_else(none)?;
        if stored.index >= view.size() {
            return Err(none());
        }
        if let Some(at) = stored.disposed {
            return Err(Error::new(
                Code::ObjectDisposed,
                format!("dataset {dataset} version {version} was disposed of (entry {at})"),
            ));
        }
        let deposit = deposit_at(view, stored.leaf.deposit)?.ok_or_else(|| {
            Error::corrupt(format!("storage entry {} names no deposit", stored.index))
        })?;
        Ok((stored, deposit))
    }

    /// Checks that access decision `access` is `reader`'s, a permit for `download` of
    /// `dataset`, and that it still holds now (its consents in force). Returns the consents
    /// it relies on.
    fn permit_holds(
        &self,
        view: &View,
        reader: &ParticipantLeaf,
        access: Uuid,
        dataset: Uuid,
    ) -> Result<Vec<Uuid>, Error> {
        let Some(index) = view.lookup(&keys::record_id(access))? else {
            return Err(forbidden(&format!("no access decision {access}")));
        };
        let read = match super::accesses::read_access(view, index)? {
            Ok(read) => read,
            Err(_) => return Err(forbidden(&format!("no access decision {access}"))),
        };
        if read.record.accessor != reader.id {
            return Err(forbidden(&format!(
                "access decision {access} is another participant's"
            )));
        }
        if read.record.decision != Verdict::Permit {
            return Err(forbidden(&format!("access decision {access} is a deny")));
        }
        if read.payload.dataset_id != dataset || read.payload.action != Action::Download {
            return Err(forbidden(&format!(
                "access decision {access} does not permit download of dataset {dataset}"
            )));
        }
        let consent_ids: Vec<Uuid> = if read.payload.legal_basis == LegalBasis::Consent {
            read.payload.consent_ids.clone().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut facts = HashMap::new();
        for id in &consent_ids {
            if let Some(loaded) = super::consents::load(view, *id)? {
                facts.insert(*id, loaded.facts());
            }
        }
        let controller = self
            .published_dataset(view, dataset)?
            .map(|d| d.controller());
        let decision = decide(
            &AccessFacts {
                accessor: reader.id,
                dataset_id: dataset,
                dataset_controller: controller,
                purpose: &read.payload.purpose.code,
                legal_basis: read.payload.legal_basis,
                consent_ids: &consent_ids,
                emergency: read.payload.emergency.is_some(),
            },
            &facts,
            Utc::now(),
        );
        if decision.verdict != Verdict::Permit {
            return Err(forbidden(&format!(
                "access decision {access} no longer holds: {}",
                decision.reason.code()
            )));
        }
        Ok(consent_ids)
    }

    /// Places or lifts a legal hold (the operator): logged, then set on every copy.
    pub async fn legal_hold(
        &self,
        dataset: Uuid,
        version: u64,
        hold: bool,
        reference: &str,
    ) -> Result<(CustodyReceipt, Written), Error> {
        let archive = self.archive()?.clone();
        let serial = archive.clone();
        let _serial = serial.serial().lock().await;
        let view = self.view();
        let (stored, _) = self.published_object(&view, dataset, version)?;
        drop(view);
        let leaf = CustodyLeaf::LegalHold(LegalHoldLeaf {
            v: 1,
            kind: CustodyKind::LegalHold,
            object: stored.leaf.object,
            dataset_id: dataset,
            version,
            hold,
            reference: reference.to_owned(),
            time: time(Utc::now()),
        });
        let request = AppendRequest {
            entry: leaf.to_bytes().map_err(encode)?,
            index: vec![keys::object_hold(stored.leaf.object)],
            listed: vec![keys::dataset_custody(dataset)],
            absent: vec![keys::object_disposal(stored.leaf.object)],
            ..AppendRequest::default()
        };
        let done = self.append_custody(leaf, request).await.map_err(refused)?;
        let object = stored.object();
        blocking(move || {
            for loc in archive.locations() {
                loc.set_hold(object, hold).map_err(archive_error)?;
            }
            Ok(())
        })
        .await?;
        Ok(done)
    }

    /// Disposes of a dataset version's object once its retention is over and no hold
    /// stands: the `disposal` entry (which destroys the object's key with it) is logged
    /// first, then every copy is deleted; each location refuses on its own too.
    pub async fn dispose(
        &self,
        by: Disposer<'_>,
        dataset: Uuid,
        version: u64,
    ) -> Result<(CustodyReceipt, Written), Error> {
        self.dispose_at(by, dataset, version, Utc::now()).await
    }

    /// [`Ledger::dispose`] as of `now` (the retention policy's clock).
    async fn dispose_at(
        &self,
        by: Disposer<'_>,
        dataset: Uuid,
        version: u64,
        now: DateTime<Utc>,
    ) -> Result<(CustodyReceipt, Written), Error> {
        let archive = self.archive()?.clone();
        // Holds and disposals one at a time: a hold placed meanwhile is seen below.
        let serial = archive.clone();
        let _serial = serial.serial().lock().await;
        let view = self.view();
        let (stored, deposit) = self.published_object(&view, dataset, version)?;
        drop(view);
        let by = match by {
            Disposer::Depositor(p) if p.id != deposit.depositor => {
                return Err(Error::new(
                    Code::NotDepositor,
                    format!("dataset {dataset} is another participant's deposit"),
                ))
            }
            Disposer::Depositor(p) => Some(p.id),
            Disposer::Operator => None,
        };
        if let Some(until) = stored.retain_until().filter(|u| now < *u) {
            return Err(archive_error(ArchiveError::Retained { until }));
        }
        if stored.held {
            return Err(archive_error(ArchiveError::Held));
        }
        let leaf = CustodyLeaf::Disposal(DisposalLeaf {
            v: 1,
            kind: CustodyKind::Disposal,
            object: stored.leaf.object,
            dataset_id: dataset,
            version,
            storage: stored.index,
            by,
            locations: stored.leaf.locations.clone(),
            sha256: stored.leaf.sha256.clone(),
            time: time(now),
        });
        let request = AppendRequest {
            entry: leaf.to_bytes().map_err(encode)?,
            unique: vec![keys::object_disposal(stored.leaf.object)],
            listed: vec![keys::dataset_custody(dataset)],
            erase_sidecars: if stored.leaf.encrypted {
                vec![stored.index]
            } else {
                Vec::new()
            },
            ..AppendRequest::default()
        };
        let done = self
            .append_custody(leaf, request)
            .await
            .map_err(|e| match e {
                AppendError::Conflict(i) if keys::Taken::of(i) == keys::Taken::Disposed => {
                    Error::new(Code::ObjectDisposed, "the object was already disposed of")
                }
                e => refused(e),
            })?;
        let object = stored.object();
        let size = stored.leaf.size;
        let depositor = deposit.depositor;
        {
            let archive = archive.clone();
            blocking(move || {
                for loc in archive.locations() {
                    loc.remove(object, now).map_err(archive_error)?;
                }
                Ok(())
            })
            .await?;
        }
        let mut counts = archive.counts();
        if let Some(u) = counts.usage.get_mut(&depositor) {
            *u = u.saturating_sub(size);
        }
        counts.objects = counts.objects.saturating_sub(1);
        counts.unrepaired.remove(object.as_uuid());
        Ok(done)
    }

    /// The operator's retention policy: disposes of every object whose retention ended before
    /// `now` and that no hold keeps, logging each disposal; returns how many. Objects without
    /// a retention period are left to their depositor.
    pub async fn dispose_expired(&self, now: DateTime<Utc>) -> Result<u64, Error> {
        let mut done = 0;
        let mut after = None;
        loop {
            let page = self.storage_entries(after, 1000)?;
            let Some(&last) = page.last() else { break };
            after = Some(last);
            for index in page {
                let stored = self.stored_at(index)?;
                let expired = stored.retain_until().is_some_and(|u| u <= now);
                if stored.disposed.is_some() || stored.held || !expired {
                    continue;
                }
                match self
                    .dispose_at(
                        Disposer::Operator,
                        stored.leaf.dataset_id,
                        stored.leaf.version,
                        now,
                    )
                    .await
                {
                    Ok(_) => done += 1,
                    // A hold placed, or a disposal by the depositor, meanwhile.
                    Err(e) if matches!(e.code(), Code::LegalHold | Code::ObjectDisposed) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(done)
    }

    /// Every `storage` entry, in log order, after `after` (at most `limit`).
    pub fn storage_entries(&self, after: Option<u64>, limit: usize) -> Result<Vec<u64>, Error> {
        let after = after.map(u64::to_be_bytes);
        Ok(self
            .log
            .store()
            .scan(
                keys::ARCHIVE_OBJECTS,
                &[],
                after.as_ref().map(|a| &a[..]),
                limit,
            )?
            .into_iter()
            .map(|(_, index)| index)
            .collect())
    }

    /// At start: finishes what a crash interrupted, from the log. An object in `incoming/`
    /// is committed if its `storage` entry exists, else deleted; a committed object whose
    /// `disposal` entry exists is deleted; holds are set as the log says. Then counts each
    /// depositor's bytes.
    pub fn reconcile_archive(&self) -> Result<(), Error> {
        let Some(archive) = self.archive.as_ref() else {
            return Ok(());
        };
        for loc in archive.locations() {
            for object in loc.incoming().map_err(archive_error)? {
                match self.taken(&keys::object_storage(*object.as_uuid()))? {
                    Some(index) => {
                        let stored = self.stored_at(index)?;
                        loc.promote(
                            object,
                            &Lock {
                                retain_until: stored.retain_until(),
                                hold: stored.held,
                            },
                        )
                        .map_err(archive_error)?;
                        tracing::info!(%object, location = loc.name(), "committed an object a crash left in incoming/");
                    }
                    None => {
                        loc.discard_incoming(object).map_err(archive_error)?;
                        tracing::info!(%object, location = loc.name(), "discarded an unlogged object a crash left in incoming/");
                    }
                }
            }
        }
        let mut counts = crate::archive::vault::Counts::default();
        let mut after = None;
        loop {
            let page = self.storage_entries(after, 1000)?;
            let Some(&last) = page.last() else { break };
            after = Some(last);
            for index in page {
                let stored = self.stored_at(index)?;
                let object = stored.object();
                if stored.disposed.is_some() {
                    for loc in archive.locations() {
                        loc.remove(object, Utc::now()).map_err(archive_error)?;
                    }
                    continue;
                }
                for loc in archive.locations() {
                    if stored.leaf.locations.iter().any(|n| n == loc.name())
                        && loc.lock(object).is_ok_and(|l| l.hold != stored.held)
                    {
                        loc.set_hold(object, stored.held).map_err(archive_error)?;
                    }
                }
                if let Some(failure) = self.taken(&keys::object_failure(*object.as_uuid()))? {
                    if let Some(Ok(Entry::Custody(CustodyLeaf::FixityFailure(_)))) = self
                        .log
                        .store()
                        .entries(failure, failure + 1)?
                        .pop()
                        .map(|b| Entry::from_bytes(&b))
                    {
                        counts.unrepaired.insert(*object.as_uuid(), failure);
                    }
                }
                let view = self.view();
                if let Some(deposit) = deposit_at(&view, stored.leaf.deposit)? {
                    *counts.usage.entry(deposit.depositor).or_default() += stored.leaf.size;
                }
                counts.objects += 1;
            }
        }
        *archive.counts() = counts;
        Ok(())
    }
}

fn forbidden(message: &str) -> Error {
    Error::new(Code::DownloadForbidden, message.to_owned())
}

fn already_archived(dataset: Uuid, version: u64) -> Error {
    Error::new(
        Code::AlreadyArchived,
        format!("dataset {dataset} version {version} already has an archived object"),
    )
}

/// Runs blocking file work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Error::new(Code::Unavailable, "the server is stopping; retry"))?
}

/// Writes the staged object to every location's `incoming/`: adopted (linked) at the first,
/// copied to the others, each copy checked against what was staged.
fn write_incoming(
    archive: &Archive,
    object: ObjectId,
    staged: &std::path::Path,
    expect: &StoredBytes,
) -> Result<(), Error> {
    let mut done: Vec<&Arc<dyn Location>> = Vec::new();
    let result = (|| {
        for (i, loc) in archive.locations().iter().enumerate() {
            let written = if i == 0 {
                loc.adopt_incoming_hashed(object, staged, expect)
                    .map(|()| *expect)
            } else {
                File::open(staged)
                    .map_err(|source| ArchiveError::Io {
                        action: "opening",
                        path: staged.to_owned(),
                        source,
                    })
                    .and_then(|mut f| loc.write_incoming(object, &mut f))
            }
            .map_err(archive_error)?;
            done.push(loc);
            if written != *expect {
                return Err(archive_error(ArchiveError::Corrupt(format!(
                    "the copy at {} differs from the staged bytes",
                    loc.name()
                ))));
            }
        }
        Ok(())
    })();
    if result.is_err() {
        for loc in done {
            let _ = loc.discard_incoming(object);
        }
    }
    result
}

/// Opens an object's plaintext at the first location whose copy opens, positioned at the
/// range's start and limited to it.
fn open_plaintext(
    archive: &Archive,
    object: ObjectId,
    expect: &StoredBytes,
    key: Option<&ObjectKey>,
    span: Option<(u64, u64)>,
) -> Result<Box<dyn Read + Send>, Error> {
    let mut last = None;
    for loc in archive.locations() {
        let reader = match loc.open(object) {
            Ok(r) => r,
            Err(e) => {
                last = Some(e);
                continue;
            }
        };
        if reader.len() != expect.size {
            last = Some(ArchiveError::Corrupt(format!(
                "the copy at {} has {} bytes, not {}",
                loc.name(),
                reader.len(),
                expect.size
            )));
            continue;
        }
        let (start, length) = span.map_or((0, None), |(a, b)| (a, Some(b - a + 1)));
        let mut plain: Box<dyn ReadSeek> = match key {
            None => Box::new(reader),
            Some(k) => Box::new(crypt::decrypt(k, reader).map_err(archive_error)?),
        };
        plain
            .seek(SeekFrom::Start(start))
            .map_err(|e| archive_error(ArchiveError::Crypto(e.to_string())))?;
        return Ok(match length {
            None => Box::new(plain),
            Some(n) => Box::new(plain.take(n)),
        });
    }
    Err(archive_error(
        last.unwrap_or(ArchiveError::NotFound(object)),
    ))
}

/// A plaintext reader that seeks.
trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}
