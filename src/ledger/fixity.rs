//! The scrubber's runs and the custody chain. A run re-reads every copy of every live object
//! within the archive's I/O budget, logs a `fixity_failure` for each copy that fails, rewrites
//! it from a good copy and logs the `repair`, and ends with one `fixity` entry committing to
//! every check (its records kept beside the entry, so that any one check is proved by an RFC
//! 9162 audit path). `GET /v1/datasets/{id}/custody` reads a dataset's whole chain.

use std::sync::Arc;

use base64::prelude::*;
use chrono::Utc;
use serde::Serialize;
use uuid::Uuid;

use super::archive::{CustodyReceipt, Stored};
use super::{encode, keys, refused, Ledger};
use crate::archive::budget::Budget;
use crate::archive::fixity::{self, Outcome as Found};
use crate::archive::Archive;
use crate::consent::time;
use crate::custody::run::{self, CheckRecord, Outcome};
use crate::custody::{CustodyKind, CustodyLeaf, FixityFailureLeaf, FixityLeaf, RepairLeaf};
use crate::entry::Entry;
use crate::error::{Code, Error};
use crate::field;
use crate::log::AppendRequest;
use crate::receipt::Receipt;

/// What a run found, as answered to the operator who started it.
#[derive(Serialize, schemars::JsonSchema)]
pub struct FixityRun {
    /// The run's `fixity` entry.
    pub custody: CustodyReceipt,
    /// Copies checked.
    pub checked: u64,
    /// Copies intact.
    pub intact: u64,
    /// Copies that failed.
    pub failed: u64,
    /// Failed copies repaired.
    pub repaired: u64,
}

/// One check of a run, with its proof: `GET /v1/archive/fixity/{index}?object=&location=`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct FixityProof {
    /// The run's `fixity` entry.
    pub index: u64,
    /// The check record (the leaf's bytes, as JSON text).
    pub record: String,
    /// Its position among the run's checks.
    pub leaf_index: u64,
    /// How many checks the run made (the tree's size).
    pub checked: u64,
    /// The RFC 9162 audit path from the leaf to the entry's `root`, base64.
    pub path: Vec<String>,
}

/// An entry of a custody chain.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ChainLink {
    /// The entry's index.
    pub index: u64,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its receipt (the entry is in it).
    pub receipt: Receipt,
}

/// `GET /v1/datasets/{id}/custody`: a dataset's custody entries with receipts, and, for each
/// live object, the proof of its copies' checks in the latest fixity run.
#[derive(Serialize, schemars::JsonSchema)]
pub struct CustodyChain {
    /// The dataset.
    pub dataset_id: Uuid,
    /// Its custody entries, in log order, after `after` if given (at most `limit`).
    pub entries: Vec<ChainLink>,
    /// True when there are more: ask again with `after` = the last index listed.
    pub truncated: bool,
    /// The latest fixity run, if any ran since the dataset was archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixity: Option<LatestRun>,
}

/// The latest run and this dataset's checks in it.
#[derive(Serialize, schemars::JsonSchema)]
pub struct LatestRun {
    /// The run's `fixity` entry and its receipt.
    pub run: ChainLink,
    /// The checks of this dataset's objects, each with its path to the entry's `root`.
    pub checks: Vec<FixityProof>,
}

/// A run's records, one compact JSON object per line of its sidecar.
fn runs_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// How fast a fixity run may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Within the archive's configured budget (`--fixity-budget-mb`): the scheduled runs.
    Configured,
    /// As fast as the disks go: an operator's run with no budget.
    Unthrottled,
    /// At most this many bytes per second.
    PerSecond(u64),
}

impl Ledger {
    /// One fixity run over every live object, at `pace`.
    pub async fn fixity_run(&self, pace: Pace) -> Result<FixityRun, Error> {
        let archive = self.archive()?.clone();
        let serial = archive.clone();
        let _serial = serial.serial().lock().await;
        let budget = Arc::new(match pace {
            Pace::Configured => Budget::new(archive.limits().fixity_budget),
            Pace::Unthrottled => Budget::unlimited(),
            Pace::PerSecond(rate) => Budget::new(Some(rate)),
        });
        let run_id = Uuid::new_v4();
        let started = Utc::now();
        let mut records: Vec<CheckRecord> = Vec::new();
        let (mut intact, mut repaired) = (0u64, 0u64);
        let mut after = None;
        loop {
            let page = self.storage_entries(after, 256)?;
            let Some(&last) = page.last() else { break };
            after = Some(last);
            let mut live = Vec::with_capacity(page.len());
            for index in page {
                let stored = self.stored_at(index)?;
                if stored.disposed.is_none() {
                    live.push(stored);
                }
            }
            // A page of objects read in one blocking task; failures are logged after it.
            let checked = {
                let archive = archive.clone();
                let budget = budget.clone();
                blocking(move || check_page(&archive, live, &budget)).await?
            };
            for (stored, checks) in checked {
                let good = checks
                    .iter()
                    .find(|r| r.outcome == Outcome::Intact)
                    .map(|r| r.location.clone());
                for mut record in checks {
                    if record.outcome == Outcome::Intact {
                        intact += 1;
                        records.push(record);
                        continue;
                    }
                    let failure = self.log_failure(&archive, &stored, run_id, &record).await?;
                    let Some(source) = good.clone() else {
                        records.push(record);
                        continue;
                    };
                    let location = record.location.clone();
                    let fixed = {
                        let archive = archive.clone();
                        let budget = budget.clone();
                        let stored = stored.clone();
                        let location = location.clone();
                        let source = source.clone();
                        blocking(move || {
                            repair_copy(&archive, &stored, &location, &source, &budget)
                        })
                        .await
                    };
                    match fixed {
                        Ok(()) => {
                            self.log_repair(&archive, &stored, run_id, &location, &source, failure)
                                .await?;
                            record.repaired = true;
                            repaired += 1;
                        }
                        Err(e) => {
                            tracing::error!(object = %stored.leaf.object, location, error = %e, "repair failed");
                        }
                    }
                    records.push(record);
                }
            }
        }
        let leaves: Vec<Vec<u8>> = records
            .iter()
            .map(CheckRecord::to_bytes)
            .collect::<Result<_, _>>()
            .map_err(encode)?;
        let hashes: Vec<run::Hash> = leaves.iter().map(|l| run::leaf_hash(l)).collect();
        let checked = records.len() as u64;
        let leaf = CustodyLeaf::Fixity(FixityLeaf {
            v: 1,
            kind: CustodyKind::Fixity,
            run: run_id,
            started: time(started),
            checked,
            intact,
            repaired,
            root: field::hex(&run::root(&hashes)),
            time: time(Utc::now()),
        });
        let request = AppendRequest {
            entry: leaf.to_bytes().map_err(encode)?,
            listed: vec![keys::fixity_runs()],
            sidecar: Some(leaves.join(&b'\n')),
            ..AppendRequest::default()
        };
        let (custody, _) = self.append_custody(leaf, request).await.map_err(refused)?;
        {
            let mut counts = archive.counts();
            counts.runs_total += 1;
            counts.last_run = Some(Utc::now().timestamp());
        }
        tracing::info!(run = %run_id, checked, intact, repaired, "fixity run");
        Ok(FixityRun {
            custody,
            checked,
            intact,
            failed: checked - intact,
            repaired,
        })
    }

    async fn log_failure(
        &self,
        archive: &Archive,
        stored: &Stored,
        run_id: Uuid,
        record: &CheckRecord,
    ) -> Result<u64, Error> {
        let leaf = CustodyLeaf::FixityFailure(FixityFailureLeaf {
            v: 1,
            kind: CustodyKind::FixityFailure,
            object: stored.leaf.object,
            dataset_id: stored.leaf.dataset_id,
            version: stored.leaf.version,
            run: run_id,
            location: record.location.clone(),
            outcome: record.outcome,
            found_sha256: record.sha256.clone(),
            found_size: None,
            time: time(Utc::now()),
        });
        let request = AppendRequest {
            entry: leaf.to_bytes().map_err(encode)?,
            index: vec![keys::object_failure(stored.leaf.object)],
            listed: vec![keys::dataset_custody(stored.leaf.dataset_id)],
            ..AppendRequest::default()
        };
        let (done, _) = self.append_custody(leaf, request).await.map_err(refused)?;
        tracing::error!(object = %stored.leaf.object, location = record.location, outcome = ?record.outcome, index = done.index, "fixity failure");
        let mut counts = archive.counts();
        counts.failures_total += 1;
        counts.unrepaired.insert(stored.leaf.object, done.index);
        Ok(done.index)
    }

    async fn log_repair(
        &self,
        archive: &Archive,
        stored: &Stored,
        run_id: Uuid,
        location: &str,
        source: &str,
        failure: u64,
    ) -> Result<(), Error> {
        let leaf = CustodyLeaf::Repair(RepairLeaf {
            v: 1,
            kind: CustodyKind::Repair,
            object: stored.leaf.object,
            dataset_id: stored.leaf.dataset_id,
            version: stored.leaf.version,
            run: run_id,
            location: location.to_owned(),
            source: source.to_owned(),
            failure,
            time: time(Utc::now()),
        });
        let request = AppendRequest {
            entry: leaf.to_bytes().map_err(encode)?,
            index: vec![keys::object_failure(stored.leaf.object)],
            listed: vec![keys::dataset_custody(stored.leaf.dataset_id)],
            ..AppendRequest::default()
        };
        let (done, _) = self.append_custody(leaf, request).await.map_err(refused)?;
        tracing::warn!(object = %stored.leaf.object, location, source, index = done.index, "repaired");
        let mut counts = archive.counts();
        counts.repairs_total += 1;
        counts.unrepaired.remove(&stored.leaf.object);
        Ok(())
    }

    /// A published fixity run's check of `object` at `location`, with its audit path.
    pub fn fixity_proof(
        &self,
        index: u64,
        object: Uuid,
        location: &str,
    ) -> Result<FixityProof, Error> {
        let view = self.view();
        let not_found = || {
            Error::new(
                Code::FixityRunNotFound,
                format!("entry {index} is no fixity run with a check of {object} at {location}"),
            )
        };
        let records = self.run_records(&view, index)?.ok_or_else(not_found)?;
        let at = records
            .iter()
            .position(|r| {
                CheckRecord::from_bytes(r)
                    .is_ok_and(|c| c.object == object && c.location == location)
            })
            .ok_or_else(not_found)?;
        Ok(proof_of(index, &records, at))
    }

    fn run_records(&self, view: &super::View, index: u64) -> Result<Option<Vec<Vec<u8>>>, Error> {
        if index >= view.size() {
            return Ok(None);
        }
        match view.entry(index)?.map(|s| s.entry) {
            Some(Ok(Entry::Custody(CustodyLeaf::Fixity(_)))) => {}
            _ => return Ok(None),
        }
        let bytes = view
            .store()
            .sidecar(index)?
            .ok_or_else(|| Error::corrupt(format!("fixity run {index} has lost its records")))?;
        Ok(Some(runs_records(&bytes)))
    }

    /// `GET /v1/datasets/{id}/custody`: one page of a dataset's custody chain, with the
    /// latest fixity run's checks of its live objects.
    pub fn custody_chain(
        &self,
        dataset: Uuid,
        after: Option<u64>,
        limit: usize,
    ) -> Result<CustodyChain, Error> {
        let view = self.view();
        self.published_dataset(&view, dataset)?
            .ok_or_else(|| Error::new(Code::DatasetNotFound, format!("no dataset {dataset}")))?;
        let page = view.page(&keys::dataset_custody(dataset), after, limit)?;
        let mut entries = Vec::with_capacity(page.leaves.len());
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for &index in &page.leaves {
            let stored = view.entry(index)?;
            let kind = match stored.as_ref().map(|s| &s.entry) {
                Some(Ok(Entry::Custody(c))) => {
                    match c {
                        CustodyLeaf::Storage(s) => live.push(s.object),
                        CustodyLeaf::Disposal(d) => gone.push(d.object),
                        _ => {}
                    }
                    c.kind().as_str().to_owned()
                }
                _ => {
                    return Err(Error::corrupt(format!(
                        "entry {index} is not a custody entry"
                    )))
                }
            };
            entries.push(ChainLink {
                index,
                kind,
                receipt: self.receipt_at(&view, index, |_| false)?,
            });
        }
        live.retain(|o| !gone.contains(o));
        let last_run = view
            .store()
            .last(keys::FIXITY_RUNS, &[])?
            .map(|(_, index)| index)
            .filter(|&i| i < view.size());
        let fixity = match last_run {
            Some(index) if !live.is_empty() => {
                let records = self.run_records(&view, index)?.unwrap_or_default();
                let mut checks = Vec::new();
                for (at, r) in records.iter().enumerate() {
                    if CheckRecord::from_bytes(r).is_ok_and(|c| live.contains(&c.object)) {
                        checks.push(proof_of(index, &records, at));
                    }
                }
                Some(LatestRun {
                    run: ChainLink {
                        index,
                        kind: CustodyKind::Fixity.as_str().to_owned(),
                        receipt: self.receipt_at(&view, index, |_| false)?,
                    },
                    checks,
                })
            }
            _ => None,
        };
        Ok(CustodyChain {
            dataset_id: dataset,
            entries,
            truncated: page.truncated,
            fixity,
        })
    }
}

fn proof_of(index: u64, records: &[Vec<u8>], at: usize) -> FixityProof {
    let hashes: Vec<run::Hash> = records.iter().map(|r| run::leaf_hash(r)).collect();
    let path = run::path(&hashes, at).unwrap_or_default();
    FixityProof {
        index,
        record: String::from_utf8_lossy(&records[at]).into_owned(),
        leaf_index: at as u64,
        checked: records.len() as u64,
        path: path.iter().map(|h| BASE64_STANDARD.encode(h)).collect(),
    }
}

/// How many objects a run reads at once: small objects are bound by the disk's latency, not
/// its bandwidth, and several reads in flight keep it busy.
const READERS: usize = 4;

/// One object's checks, or why it could not be checked.
type Checked = Result<Vec<CheckRecord>, Error>;

/// Checks a page of objects, [`READERS`] at a time, in order.
fn check_page(
    archive: &Archive,
    live: Vec<Stored>,
    budget: &Budget,
) -> Result<Vec<(Stored, Vec<CheckRecord>)>, Error> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Checked>>> = (0..live.len())
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..READERS.min(live.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(stored) = live.get(i) else { break };
                let checked = check_object(archive, stored, budget);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(checked);
            });
        }
    });
    live.into_iter()
        .zip(slots)
        .map(|(s, slot)| {
            let checked = slot.into_inner().unwrap_or_else(|p| p.into_inner());
            let checks =
                checked.unwrap_or_else(|| Err(Error::corrupt("an object was not checked")))?;
            Ok((s, checks))
        })
        .collect()
}

/// Checks every copy of one object.
fn check_object(
    archive: &Archive,
    stored: &Stored,
    budget: &Budget,
) -> Result<Vec<CheckRecord>, Error> {
    let expect = stored.bytes()?;
    let mut out = Vec::new();
    for name in &stored.leaf.locations {
        let (outcome, sha256) = match archive.location(name) {
            None => (Outcome::Unreadable, None),
            Some(loc) => match fixity::check(loc.as_ref(), stored.object(), &expect, budget) {
                Found::Intact => (Outcome::Intact, None),
                Found::Mismatch { sha256, .. } => (Outcome::Mismatch, Some(field::hex(&sha256))),
                Found::Missing => (Outcome::Missing, None),
                Found::Unreadable(_) => (Outcome::Unreadable, None),
            },
        };
        out.push(CheckRecord {
            object: stored.leaf.object,
            location: name.clone(),
            outcome,
            sha256,
            repaired: false,
        });
    }
    Ok(out)
}

fn repair_copy(
    archive: &Archive,
    stored: &Stored,
    location: &str,
    source: &str,
    budget: &Budget,
) -> Result<(), Error> {
    let (Some(bad), Some(good)) = (archive.location(location), archive.location(source)) else {
        return Err(Error::new(
            Code::ArchiveUnavailable,
            "a location is not configured",
        ));
    };
    fixity::repair(
        bad.as_ref(),
        good.as_ref(),
        stored.object(),
        &stored.bytes()?,
        budget,
    )
    .map_err(|e| Error::new(Code::ArchiveUnavailable, format!("archive: {e}")))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Error::new(Code::Unavailable, "the server is stopping; retry"))?
}
