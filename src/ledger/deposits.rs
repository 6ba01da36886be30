//! Dataset deposits: a depositor's signed deposit statement becomes version 1 of a new
//! dataset, or the next version of one of its own; depositing the same content again answers
//! with the existing entry. A dataset's controller is fixed by its first version. Searches by
//! content digest and by dataset.

use serde::Serialize;
use uuid::Uuid;

use super::statements::parse_payload;
use super::{encode, keys, random32, refused, Ledger, View, Written};
use crate::entry::Entry;
use crate::error::{Code, Error};
use crate::log::{AppendError, AppendRequest, IndexKey};
use crate::participant::Role;
use crate::receipt::{PrivateSidecar, Receipt};
use crate::statement::deposit::{
    Deposit, DepositLeaf, DepositPayload, Placement, Visibility, DEPOSIT_TYPE,
};

/// How many concurrent new versions of one dataset a deposit retries past.
const VERSION_RETRIES: usize = 16;

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

/// 503 `pending`: an entry the answer depends on is written but its checkpoint is not
/// published yet (its batch is being flushed, or a failed flush awaits the next commit).
fn pending() -> Error {
    Error::new(
        Code::Pending,
        "an entry this request depends on is being committed; retry shortly",
    )
}

/// The published deposit at `index`, which an index says is one.
pub(super) fn deposit_at(view: &View, index: u64) -> Result<Option<DepositLeaf>, Error> {
    match view.entry(index)?.map(|s| s.entry) {
        None => Ok(None),
        Some(Ok(Entry::Deposit(leaf))) => Ok(Some(leaf)),
        Some(_) => Err(Error::corrupt(format!("entry {index} is not a deposit"))),
    }
}

/// A deposit statement checked, not yet written: what [`Ledger::write_deposit`] takes.
pub struct CheckedDeposit {
    /// The verified statement.
    pub signed: super::statements::Signed,
    /// Its payload.
    pub payload: DepositPayload,
    /// The payload, checked.
    pub deposit: Deposit,
    nonce: super::statements::Nonce,
    target: Target,
}

impl CheckedDeposit {
    /// The key that finds an earlier deposit of the same content where this one goes.
    pub fn duplicate_key(&self) -> &IndexKey {
        &self.target.duplicate_key
    }
}

/// Where a deposit goes: its dataset, whether the dataset is new, its controller, and the key
/// that finds an earlier deposit of the same content there.
struct Target {
    dataset_id: Uuid,
    new: bool,
    controller: Uuid,
    duplicate_key: IndexKey,
}

impl Ledger {
    /// A dataset's first version's entry, published or not (a precondition's read).
    fn first_version(&self, dataset: Uuid) -> Result<Option<u64>, Error> {
        let versions = keys::dataset_versions(dataset);
        Ok(self
            .log
            .store()
            .scan(versions.index, &versions.key, None, 1)?
            .first()
            .map(|&(_, index)| index))
    }

    /// A dataset's latest version number, published or not: one seek.
    fn last_version(&self, dataset: Uuid) -> Result<Option<u64>, Error> {
        let versions = keys::dataset_versions(dataset);
        Ok(self
            .log
            .store()
            .last(versions.index, &versions.key)?
            .and_then(|(key, _)| keys::version_of(&key)))
    }

    /// A published dataset's first version; `None` if there is no such dataset on the log
    /// (or its first version is not published yet).
    pub(super) fn published_dataset(
        &self,
        view: &View,
        dataset: Uuid,
    ) -> Result<Option<DepositLeaf>, Error> {
        match self.first_version(dataset)? {
            Some(index) => deposit_at(view, index),
            None => Ok(None),
        }
    }

    /// Where `deposit` by `depositor` goes.
    fn target(&self, view: &View, depositor: Uuid, deposit: &Deposit) -> Result<Target, Error> {
        match deposit.dataset_id {
            Some(d) => {
                let first = self
                    .first_version(d)?
                    .ok_or_else(|| Error::new(Code::DatasetNotFound, format!("no dataset {d}")))?;
                let first = deposit_at(view, first)?.ok_or_else(pending)?;
                if first.depositor != depositor {
                    return Err(Error::new(
                        Code::NotDatasetOwner,
                        format!("dataset {d} belongs to another depositor"),
                    ));
                }
                let controller = first.controller();
                if deposit.controller.is_some_and(|c| c != controller) {
                    return Err(Error::new(
                        Code::ControllerMismatch,
                        format!(
                            "payload.controller: dataset {d}'s controller is {controller}, fixed \
                             by its first version"
                        ),
                    )
                    .about("payload.controller"));
                }
                Ok(Target {
                    dataset_id: d,
                    new: false,
                    controller,
                    duplicate_key: keys::dataset_content(
                        depositor,
                        d,
                        &deposit.sha256,
                        deposit.visibility,
                    ),
                })
            }
            None => {
                let controller = match deposit.controller {
                    None => depositor,
                    Some(c) if c == depositor => depositor,
                    Some(c) if self.has_role(view, c, Role::Controller)? => c,
                    Some(c) => {
                        return Err(Error::new(
                            Code::UnknownController,
                            format!(
                                "payload.controller: {c} is not a registered participant with \
                                 the controller role"
                            ),
                        )
                        .about("payload.controller"))
                    }
                };
                Ok(Target {
                    dataset_id: Uuid::now_v7(),
                    new: true,
                    controller,
                    duplicate_key: keys::new_dataset_content(
                        depositor,
                        &deposit.sha256,
                        deposit.visibility,
                    ),
                })
            }
        }
    }

    /// The answer for an existing entry, which a deposit under `controller` repeats. Its
    /// receipt has no private opening: a replayed statement must not obtain it; the
    /// depositor reads it with its participant token.
    fn existing(&self, index: u64, controller: Uuid) -> Result<DepositAccepted, Error> {
        let view = self.view();
        let leaf = deposit_at(&view, index)?.ok_or_else(pending)?;
        // The same content under another controller is not the same deposit: one content,
        // one dataset, one controller.
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
        let receipt = self.receipt_at(&view, index, |_| false)?;
        Ok(DepositAccepted {
            dataset_id: leaf.dataset_id,
            version: leaf.version,
            index,
            duplicate: true,
            receipt,
        })
    }

    /// `POST /v1/deposits`: deposits the content a depositor's signed statement describes.
    /// A duplicate answers with the existing entry and no [`Written`].
    pub async fn deposit(&self, body: &[u8]) -> Result<(DepositAccepted, Option<Written>), Error> {
        let checked = self.check_deposit(body, chrono::Utc::now())?;
        self.write_deposit(checked).await
    }

    /// Checks a deposit statement as of `as_of` (its freshness window and nonce, its signer's
    /// role, its payload, where it goes) without writing anything. The archive checks a
    /// statement when an upload opens and writes it, as of that time, once the bytes are in.
    pub fn check_deposit(
        &self,
        body: &[u8],
        as_of: chrono::DateTime<chrono::Utc>,
    ) -> Result<CheckedDeposit, Error> {
        let view = self.view();
        let signed = self.verify_statement(&view, body, DEPOSIT_TYPE, Role::Depositor)?;
        let payload: DepositPayload = parse_payload(&signed.payload)?;
        let deposit =
            Deposit::try_from(&payload).map_err(|e| Error::invalid_fields(e.under("payload")))?;
        let depositor = signed.signer.id;
        let nonce = self.check_fresh_at(depositor, &deposit.freshness, as_of)?;
        // Duplicates are the same content with the same visibility: depositing private
        // content again as public is a new deposit, not the private one handed back.
        let target = self.target(&view, depositor, &deposit)?;
        Ok(CheckedDeposit {
            signed,
            payload,
            deposit,
            nonce,
            target,
        })
    }

    /// Writes a checked deposit (or answers with the existing entry of its content).
    pub async fn write_deposit(
        &self,
        checked: CheckedDeposit,
    ) -> Result<(DepositAccepted, Option<Written>), Error> {
        let CheckedDeposit {
            signed,
            deposit,
            nonce: nonce_key,
            target,
            ..
        } = checked;
        let depositor = signed.signer.id;
        if let Some(index) = self.taken(&target.duplicate_key)? {
            return Ok((self.existing(index, target.controller)?, None));
        }
        for _ in 0..VERSION_RETRIES {
            let version = match deposit.dataset_id {
                Some(d) => self.last_version(d)?.map_or(1, |v| v + 1),
                None => 1,
            };
            let salt = random32();
            let place = Placement {
                dataset_id: target.dataset_id,
                version,
                depositor,
                controller: target.controller,
            };
            let leaf =
                DepositLeaf::new(&deposit, &signed.envelope, &salt, place, chrono::Utc::now())
                    .map_err(encode)?;
            let sidecar = (deposit.visibility == Visibility::Private)
                .then(|| PrivateSidecar::statement(&salt, signed.envelope.clone()));
            let bytes = leaf.to_bytes().map_err(encode)?;
            let mut unique = vec![
                nonce_key.key.clone(),
                keys::dataset_version(target.dataset_id, version),
                target.duplicate_key.clone(),
            ];
            if target.new {
                // The first version also answers later deposits of this content to this
                // dataset.
                unique.push(keys::dataset_content(
                    depositor,
                    target.dataset_id,
                    &deposit.sha256,
                    deposit.visibility,
                ));
            }
            let request = AppendRequest {
                entry: bytes.clone(),
                unique,
                index: vec![nonce_key.expiry.clone()],
                listed: vec![keys::deposit_content(&deposit.sha256)],
                sidecar: sidecar
                    .as_ref()
                    .map(PrivateSidecar::to_bytes)
                    .transpose()
                    .map_err(encode)?,
                ..AppendRequest::default()
            };
            match self.append(request).await {
                Ok(settled) => {
                    let index = settled.written.index;
                    tracing::info!(dataset_id = %target.dataset_id, version, index, "deposit notarised");
                    let receipt = self.written_receipt(
                        index,
                        &Entry::Deposit(leaf),
                        &bytes,
                        sidecar.as_ref(),
                        &settled.against,
                    )?;
                    return Ok((
                        DepositAccepted {
                            dataset_id: target.dataset_id,
                            version,
                            index,
                            duplicate: false,
                            receipt,
                        },
                        Some(settled.written),
                    ));
                }
                Err(AppendError::Conflict(index))
                    if keys::Taken::of(index) == keys::Taken::DatasetVersion => {}
                Err(AppendError::Conflict(index))
                    if keys::Taken::of(index) == keys::Taken::DuplicateContent =>
                {
                    let index = self.taken(&target.duplicate_key)?.ok_or_else(|| {
                        Error::new(Code::Conflict, "a concurrent deposit won; retry")
                    })?;
                    return Ok((self.existing(index, target.controller)?, None));
                }
                Err(e) => return Err(refused(e)),
            }
        }
        Err(Error::new(
            Code::Conflict,
            "too many concurrent versions of this dataset; retry",
        ))
    }

    /// `GET /v1/deposits?sha256=`: the published deposits of a content, one page.
    pub fn deposits_of(
        &self,
        sha256: &[u8; 32],
        after: Option<u64>,
        limit: usize,
    ) -> Result<DepositList, Error> {
        let view = self.view();
        let page = view.page(&keys::deposit_content(sha256), after, limit)?;
        let mut deposits = Vec::with_capacity(page.leaves.len());
        for &index in &page.leaves {
            if let Some(leaf) = deposit_at(&view, index)? {
                deposits.push(DepositSummary::from((index, leaf)));
            }
        }
        Ok(DepositList {
            sha256: crate::field::hex(sha256),
            deposits,
            truncated: page.truncated,
        })
    }

    /// `GET /v1/datasets/{id}`: a published dataset and one page of its versions.
    pub fn dataset(
        &self,
        id: Uuid,
        after: Option<u64>,
        limit: usize,
    ) -> Result<DatasetView, Error> {
        let view = self.view();
        let first = self
            .published_dataset(&view, id)?
            .ok_or_else(|| Error::new(Code::DatasetNotFound, format!("no dataset {id}")))?;
        let page = view.page(&keys::dataset_versions(id), after, limit)?;
        let mut versions = Vec::with_capacity(page.leaves.len());
        for &index in &page.leaves {
            if let Some(leaf) = deposit_at(&view, index)? {
                versions.push(DepositSummary::from((index, leaf)));
            }
        }
        Ok(DatasetView {
            dataset_id: id,
            depositor: first.depositor,
            controller: first.controller(),
            versions,
            truncated: page.truncated,
        })
    }
}
