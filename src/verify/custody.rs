//! Offline verification of a dataset's custody chain, as `GET /v1/datasets/{id}/custody`
//! answers it: every entry's receipt (`datapole.receipt.v1`) against one log key, each entry a
//! custody entry of this dataset in log order, the chain rules of the archive (an object is
//! stored first; failures, repairs, holds and the disposal follow its storage; nothing follows
//! its disposal, which waits for its retention and any hold), and the latest fixity run's
//! checks of the live objects proved by RFC 9162 audit paths (§2.1.3.2) against the `root` of
//! the run's `fixity` entry.
//!
//! Pure functions over plain data, with no I/O; the report has the named checks of
//! [`super::receipt::Report`], so `datapole verify --custody` prints it as it prints a
//! receipt's. It does not check what only the live log knows (that a downloader was
//! registered, that the chain is the whole of what the log lists): `truncated` is reported as
//! a failed check, and with `--log-url` the CLI adds the live log's consistency.

use std::collections::{BTreeMap, BTreeSet};

use base64::prelude::*;
use serde::Deserialize;
use uuid::Uuid;

use super::receipt::{verify_receipt, Failure, Report};
use super::{leaf_hash, verify_inclusion, Hash, VerifyError};
use crate::custody::run::{CheckRecord, Outcome};
use crate::custody::{parse_time, CustodyKind, CustodyLeaf, FixityLeaf, StorageLeaf};
use crate::entry::Entry;
use crate::receipt::Receipt;

/// A custody chain as the log answers it (`GET /v1/datasets/{id}/custody`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// The dataset the chain is said to be of.
    pub dataset_id: Uuid,
    /// Its custody entries, in log order.
    pub entries: Vec<Link>,
    /// True when the log listed only a first part of the chain.
    pub truncated: bool,
    /// The latest fixity run and its checks of the dataset's live objects.
    #[serde(default)]
    pub fixity: Option<LatestRun>,
}

/// One entry of a chain: its index, its type and its receipt.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The entry's index, as the chain lists it.
    pub index: u64,
    /// The entry's type, as the chain lists it.
    #[serde(rename = "type")]
    pub kind: String,
    /// The entry's receipt (the entry's bytes are its `leaf`).
    pub receipt: Receipt,
}

/// The latest fixity run, as a chain carries it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatestRun {
    /// The run's `fixity` entry with its receipt.
    pub run: Link,
    /// The run's checks of the dataset's live objects.
    pub checks: Vec<CheckProof>,
}

/// One check of a run with its audit path to the run's `root`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckProof {
    /// The run's `fixity` entry.
    pub index: u64,
    /// The check record: the leaf's bytes, as JSON text.
    pub record: String,
    /// Its position among the run's checks.
    pub leaf_index: u64,
    /// How many checks the run made (the size of its tree).
    pub checked: u64,
    /// The RFC 9162 audit path from the leaf to the run's `root`, standard base64.
    pub path: Vec<String>,
}

/// A JSON document that is not a custody chain.
#[derive(Debug, thiserror::Error)]
#[error("not a custody chain: {0}")]
pub struct NotAChain(pub serde_json::Error);

impl Chain {
    /// Reads a chain from its JSON.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, NotAChain> {
        Chain::deserialize(value).map_err(NotAChain)
    }
}

/// Whether a JSON document looks like a custody chain (it has `dataset_id` and `entries`),
/// to tell someone who passed one as a receipt.
pub fn looks_like_chain(value: &serde_json::Value) -> bool {
    value.get("dataset_id").is_some() && value.get("entries").is_some()
}

/// At most this many problems are spelled out in one check's detail.
const SHOWN: usize = 5;

/// The outcome of a check that found `problems`, or `ok` when it found none.
fn verdict(problems: Vec<String>, ok: impl FnOnce() -> String) -> Result<String, Failure> {
    match problems.len() {
        0 => Ok(ok()),
        n if n <= SHOWN => Err(problems.join("; ").into()),
        n => Err(format!("{}; and {} more", problems[..SHOWN].join("; "), n - SHOWN).into()),
    }
}

/// `n` and the noun, singular or plural.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A link's entry, read from its receipt's leaf.
fn custody_entry(link: &Link) -> Result<CustodyLeaf, String> {
    let bytes = link
        .receipt
        .leaf_bytes()
        .ok_or("its receipt's leaf is not base64")?;
    match Entry::from_bytes(&bytes) {
        Ok(Entry::Custody(leaf)) => Ok(leaf),
        Ok(other) => Err(format!(
            "it is a {} entry, not a custody entry",
            other.type_name()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// What the chain says of one archived object, learnt entry by entry.
struct Object<'a> {
    /// Its storage entry's index.
    storage: u64,
    /// Its storage entry.
    leaf: &'a StorageLeaf,
    /// Under a legal hold now.
    held: bool,
    /// Disposed of, at this entry.
    disposed: Option<u64>,
}

/// A `fixity_failure` of the chain.
struct Failed {
    object: Uuid,
    location: String,
    run: Uuid,
    outcome: Outcome,
    found: Option<String>,
    /// The repair that names it.
    repaired_by: Option<u64>,
}

/// What the chain rules learnt from the entries, for the fixity checks.
#[derive(Default)]
struct Story<'a> {
    objects: BTreeMap<Uuid, Object<'a>>,
    failures: BTreeMap<u64, Failed>,
    /// Repairs, by (run, object, location).
    repairs: BTreeSet<(Uuid, Uuid, String)>,
}

/// Verifies a custody chain with the log key `pinned_vkey` (or, if `None`, the key its first
/// receipt names, which then proves only that the chain is consistent with itself).
pub fn verify_custody(chain: &Chain, pinned_vkey: Option<&str>) -> Report {
    let mut report = Report { checks: Vec::new() };
    let run_link = chain.fixity.as_ref().map(|f| &f.run);
    let receipts: Vec<&Receipt> = chain
        .entries
        .iter()
        .chain(run_link)
        .map(|l| &l.receipt)
        .collect();
    let Some(first) = receipts.first() else {
        report.push(
            "log",
            Err("the chain has no entries: nothing to verify".into()),
        );
        return report;
    };
    let vkey = pinned_vkey.unwrap_or(&first.log.vkey);
    let origin = &first.log.origin;
    let key_name = vkey.split('+').next().unwrap_or(vkey);

    // One log: every receipt names the same origin and the (pinned) key.
    let problems = receipts
        .iter()
        .filter(|r| r.log.vkey != vkey || &r.log.origin != origin)
        .map(|r| {
            format!(
                "entry {} names log {} with key {:?}",
                r.index, r.log.origin, r.log.vkey
            )
        })
        .collect();
    report.push(
        "log",
        verdict(problems, || {
            format!(
                "every receipt names log {origin} and {}",
                if pinned_vkey.is_some() {
                    "the pinned key"
                } else {
                    "the same key (not pinned: consistent, not proved genuine)"
                }
            )
        }),
    );

    // Every entry's receipt.
    let mut problems = Vec::new();
    for link in &chain.entries {
        let r = verify_receipt(&link.receipt, Some(vkey));
        for c in r.checks.iter().filter(|c| !c.ok) {
            problems.push(format!(
                "entry {}: {}: {}",
                link.receipt.index, c.name, c.detail
            ));
        }
    }
    report.push(
        "receipts",
        verdict(problems, || {
            format!(
                "{}: each entry is in a checkpoint signed by {key_name}",
                count(chain.entries.len(), "receipt verifies", "receipts verify")
            )
        }),
    );

    // Each entry is a custody entry of the type and index the chain lists.
    let mut problems = Vec::new();
    let mut read: Vec<(u64, CustodyLeaf)> = Vec::new();
    for link in &chain.entries {
        let index = link.receipt.index;
        if link.index != index {
            problems.push(format!(
                "the chain lists entry {} with the receipt of entry {index}",
                link.index
            ));
        }
        match custody_entry(link) {
            Err(e) => problems.push(format!("entry {index}: {e}")),
            Ok(leaf) => {
                let kind = leaf.kind();
                if kind.as_str() != link.kind {
                    problems.push(format!(
                        "entry {index} is a {} entry, listed as {:?}",
                        kind.as_str(),
                        link.kind
                    ));
                }
                if kind == CustodyKind::Fixity {
                    problems.push(format!(
                        "entry {index} is a fixity run, which is no dataset's entry"
                    ));
                } else if let Some(p) = leaf.problem() {
                    problems.push(format!("entry {index} ({}): {p}", kind.as_str()));
                }
                read.push((index, leaf));
            }
        }
    }
    report.push(
        "entries",
        verdict(problems, || {
            let mut counts: BTreeMap<usize, (&str, usize)> = BTreeMap::new();
            for (_, leaf) in &read {
                let k = leaf.kind();
                let at = CustodyKind::ALL.iter().position(|x| *x == k).unwrap_or(0);
                counts.entry(at).or_insert((k.as_str(), 0)).1 += 1;
            }
            let list: Vec<String> = counts.values().map(|(k, n)| format!("{n} {k}")).collect();
            format!(
                "{} of the listed types: {}",
                count(read.len(), "custody entry", "custody entries"),
                list.join(", ")
            )
        }),
    );

    // One dataset's.
    let problems = read
        .iter()
        .filter_map(|(index, leaf)| {
            let r = leaf.object()?;
            (r.dataset_id != chain.dataset_id).then(|| {
                format!(
                    "entry {index} is about dataset {}, not {}",
                    r.dataset_id, chain.dataset_id
                )
            })
        })
        .collect();
    report.push(
        "dataset",
        verdict(problems, || {
            format!("every entry is about dataset {}", chain.dataset_id)
        }),
    );

    // In log order.
    let problems = chain
        .entries
        .windows(2)
        .filter(|w| w[0].receipt.index >= w[1].receipt.index)
        .map(|w| {
            format!(
                "entry {} is listed after entry {}",
                w[1].receipt.index, w[0].receipt.index
            )
        })
        .collect();
    report.push(
        "order",
        verdict(problems, || {
            match (chain.entries.first(), chain.entries.last()) {
                (Some(a), Some(b)) => format!(
                    "entries {} to {}, in strictly increasing order",
                    a.receipt.index, b.receipt.index
                ),
                _ => "no entries".into(),
            }
        }),
    );

    // The chain rules.
    let mut story = Story::default();
    let problems = chain_rules(&read, &mut story);
    report.push(
        "chain rules",
        verdict(problems, || {
            let live = story
                .objects
                .values()
                .filter(|o| o.disposed.is_none())
                .count();
            let repaired = story
                .failures
                .values()
                .filter(|f| f.repaired_by.is_some())
                .count();
            format!(
                "{}, each stored first ({live} live, {} disposed of after its retention and any hold); {}, {repaired} repaired",
                count(story.objects.len(), "object", "objects"),
                story.objects.len() - live,
                count(story.failures.len(), "fixity failure", "fixity failures"),
            )
        }),
    );

    // The latest fixity run.
    match &chain.fixity {
        None => {
            let live = story.objects.values().any(|o| o.disposed.is_none());
            report.push(
                "fixity run",
                Ok(if live {
                    "none in the chain: no run since the dataset was archived (nothing here proves its copies were checked)".into()
                } else {
                    "none: the dataset has no live object to check".into()
                }),
            );
        }
        Some(latest) => {
            let run = check_run(&latest.run, vkey);
            let leaf = run.as_ref().ok().map(|(_, leaf)| leaf.clone());
            report.push(
                "fixity run",
                run.map(|(detail, _)| detail).map_err(Failure::from),
            );
            let checks = match leaf {
                Some(leaf) => check_fixity(latest, &leaf, &story),
                None => Err("no verified fixity entry to check them against".into()),
            };
            report.push("fixity checks", checks);
        }
    }

    report.push(
        "complete",
        if chain.truncated {
            Err("the log listed only part of the chain (truncated): fetch every page (?after=<last index>) and verify them joined".into())
        } else {
            Ok("the chain is the whole of what the log listed (not truncated)".into())
        },
    );
    report
}

/// Applies the chain rules to the entries in the order listed; the problems found.
fn chain_rules<'a>(read: &'a [(u64, CustodyLeaf)], story: &mut Story<'a>) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, leaf) in read {
        let index = *index;
        let Some(r) = leaf.object() else { continue };
        let id = r.object;
        if let CustodyLeaf::Storage(s) = leaf {
            if s.deposit >= index {
                problems.push(format!(
                    "entry {index}: storage names deposit entry {}, not an earlier one",
                    s.deposit
                ));
            }
            if let Some(o) = story.objects.get(&id) {
                problems.push(format!(
                    "entry {index}: object {id} was already stored at entry {}",
                    o.storage
                ));
                continue;
            }
            story.objects.insert(
                id,
                Object {
                    storage: index,
                    leaf: s,
                    held: false,
                    disposed: None,
                },
            );
            continue;
        }
        let kind = leaf.kind().as_str();
        let Some(o) = story.objects.get_mut(&id) else {
            problems.push(format!(
                "entry {index}: the first entry of object {id} is a {kind}, not its storage"
            ));
            continue;
        };
        if o.leaf.dataset_id != r.dataset_id || o.leaf.version != r.version {
            problems.push(format!(
                "entry {index}: object {id} is version {} of dataset {}, not version {} of {}",
                o.leaf.version, o.leaf.dataset_id, r.version, r.dataset_id
            ));
        }
        if let Some(at) = o.disposed {
            problems.push(format!(
                "entry {index}: a {kind} of object {id} after its disposal at entry {at}"
            ));
        }
        let stored: &StorageLeaf = o.leaf;
        let has = |location: &str| stored.locations.iter().any(|l| l == location);
        match leaf {
            CustodyLeaf::FixityFailure(f) => {
                if !has(&f.location) {
                    problems.push(format!(
                        "entry {index}: a failure at {}, where object {id} has no copy",
                        f.location
                    ));
                }
                story.failures.insert(
                    index,
                    Failed {
                        object: id,
                        location: f.location.clone(),
                        run: f.run,
                        outcome: f.outcome,
                        found: f.found_sha256.clone(),
                        repaired_by: None,
                    },
                );
            }
            CustodyLeaf::Repair(f) => {
                if !has(&f.location) || !has(&f.source) || f.location == f.source {
                    problems.push(format!(
                        "entry {index}: a repair of the copy at {} from {}, which are not two locations of object {id}",
                        f.location, f.source
                    ));
                }
                match story.failures.get_mut(&f.failure) {
                    Some(failed)
                        if f.failure < index
                            && failed.object == id
                            && failed.location == f.location =>
                    {
                        if let Some(by) = failed.repaired_by {
                            problems.push(format!(
                                "entry {index}: failure {} was already repaired at entry {by}",
                                f.failure
                            ));
                        }
                        failed.repaired_by = Some(index);
                    }
                    _ => problems.push(format!(
                        "entry {index}: the repair names entry {}, which is no earlier failure of object {id} at {}",
                        f.failure, f.location
                    )),
                }
                story.repairs.insert((f.run, id, f.location.clone()));
            }
            CustodyLeaf::LegalHold(h) => o.held = h.hold,
            CustodyLeaf::Disposal(d) => {
                if d.storage != o.storage {
                    problems.push(format!(
                        "entry {index}: the disposal names storage entry {}, not {}",
                        d.storage, o.storage
                    ));
                }
                if d.sha256 != stored.sha256 {
                    problems.push(format!(
                        "entry {index}: the disposal names digest {}, not the stored {}",
                        d.sha256, stored.sha256
                    ));
                }
                let named: BTreeSet<&String> = d.locations.iter().collect();
                if named != stored.locations.iter().collect() {
                    problems.push(format!(
                        "entry {index}: the disposal names locations {:?}, not the stored {:?}",
                        d.locations, stored.locations
                    ));
                }
                if o.held {
                    problems.push(format!(
                        "entry {index}: object {id} disposed of under a legal hold"
                    ));
                }
                let until = stored.retain_until.as_deref().and_then(parse_time);
                if let Some(until) = until {
                    if parse_time(&d.time).is_none_or(|t| t < until) {
                        problems.push(format!(
                            "entry {index}: object {id} disposed of at {}, before its retention ended at {}",
                            d.time,
                            stored.retain_until.as_deref().unwrap_or_default()
                        ));
                    }
                }
                o.disposed.get_or_insert(index);
            }
            CustodyLeaf::Download(_) | CustodyLeaf::Storage(_) | CustodyLeaf::Fixity(_) => {}
        }
    }
    problems
}

/// The run's receipt verifies and is of a well-formed `fixity` entry: what it established,
/// and the entry.
fn check_run(link: &Link, vkey: &str) -> Result<(String, FixityLeaf), String> {
    let index = link.receipt.index;
    let failed: Vec<String> = verify_receipt(&link.receipt, Some(vkey))
        .checks
        .into_iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    if !failed.is_empty() {
        return Err(format!("entry {index}: {}", failed.join("; ")));
    }
    if link.index != index || link.kind != CustodyKind::Fixity.as_str() {
        return Err(format!(
            "the chain lists the run as {} entry {}, with the receipt of entry {index}",
            link.kind, link.index
        ));
    }
    let leaf = match custody_entry(link)? {
        CustodyLeaf::Fixity(leaf) => leaf,
        other => {
            return Err(format!(
                "entry {index} is a {} entry, not a fixity run",
                other.kind().as_str()
            ))
        }
    };
    if let Some(p) = CustodyLeaf::Fixity(leaf.clone()).problem() {
        return Err(format!("entry {index}: {p}"));
    }
    Ok((
        format!(
            "run {} at entry {index} checked {}: {} intact, {} repaired",
            leaf.run,
            count(leaf.checked as usize, "copy", "copies"),
            leaf.intact,
            leaf.repaired
        ),
        leaf,
    ))
}

/// Each check's record is of a live object of the chain and its path leads to the run's root;
/// the failures and repairs the records show are the chain's, and the other way round.
fn check_fixity(latest: &LatestRun, run: &FixityLeaf, story: &Story) -> Result<String, Failure> {
    let run_index = latest.run.receipt.index;
    let mut problems = Vec::new();
    let root: Option<Hash> = crate::field::sha256_hex("root", &run.root).ok();
    let mut seen_leaves = BTreeSet::new();
    let mut seen: BTreeMap<Uuid, BTreeSet<String>> = BTreeMap::new();
    let (mut intact, mut failed, mut repaired) = (0, 0, 0);
    for (i, p) in latest.checks.iter().enumerate() {
        let at = format!("check {i}");
        if p.index != run_index {
            problems.push(format!("{at} names run entry {}, not {run_index}", p.index));
        }
        if p.checked != run.checked {
            problems.push(format!(
                "{at} is in a tree of {} checks, the run's has {}",
                p.checked, run.checked
            ));
        }
        if !seen_leaves.insert(p.leaf_index) {
            problems.push(format!("{at}: leaf {} is shown twice", p.leaf_index));
        }
        // The record is in the run's tree.
        let path: Option<Vec<Hash>> = p
            .path
            .iter()
            .map(|h| BASE64_STANDARD.decode(h).ok()?.try_into().ok())
            .collect();
        match (path, root) {
            (None, _) => problems.push(format!("{at}: a path hash is not 32 bytes of base64")),
            (_, None) => problems.push("the run's root is not a SHA-256".into()),
            (Some(path), Some(root)) => {
                if let Err(e) = verify_inclusion(
                    &leaf_hash(p.record.as_bytes()),
                    p.leaf_index,
                    run.checked,
                    &path,
                    &root,
                ) {
                    let why = match e {
                        VerifyError::InclusionMismatch => {
                            "its path does not lead to the run's root".to_owned()
                        }
                        e => e.to_string(),
                    };
                    problems.push(format!(
                        "{at}: the record is not leaf {} of the run's tree: {why}",
                        p.leaf_index
                    ));
                }
            }
        }
        let record = match CheckRecord::from_bytes(p.record.as_bytes()) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{at}: the record is not a check record: {e}"));
                continue;
            }
        };
        let id = record.object;
        let place = format!("{at} (object {id} at {})", record.location);
        let Some(object) = story.objects.get(&id).filter(|o| o.disposed.is_none()) else {
            problems.push(format!("{place}: no live object of this chain"));
            continue;
        };
        if object.storage >= run_index {
            problems.push(format!(
                "{place}: the object was stored at entry {}, after the run",
                object.storage
            ));
        }
        if !object.leaf.locations.contains(&record.location) {
            problems.push(format!("{place}: the object has no copy there"));
        }
        if !seen.entry(id).or_default().insert(record.location.clone()) {
            problems.push(format!("{place}: checked twice"));
        }
        // The failures and repairs the record shows are on the chain.
        let failure = story
            .failures
            .values()
            .find(|f| f.run == run.run && f.object == id && f.location == record.location);
        let repair = story
            .repairs
            .contains(&(run.run, id, record.location.clone()));
        match (record.outcome, failure) {
            (Outcome::Intact, None) if !record.repaired => intact += 1,
            (Outcome::Intact, _) => problems.push(format!(
                "{place}: intact, but the chain has a failure or repair of it in this run"
            )),
            (outcome, Some(f)) if f.outcome == outcome && f.found == record.sha256 => {
                failed += 1;
                if record.repaired != repair {
                    problems.push(format!(
                        "{place}: the record says {}repaired, the chain {}",
                        if record.repaired { "" } else { "not " },
                        if repair {
                            "has its repair"
                        } else {
                            "has no repair of it in this run"
                        }
                    ));
                } else if repair {
                    repaired += 1;
                }
            }
            (outcome, _) => problems.push(format!(
                "{place}: outcome {}, but the chain has no such failure of it in this run",
                serde_json::to_value(outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )),
        }
    }
    // Every checked object's copies are all checked; every failure of the run is shown.
    for (id, locations) in &seen {
        if let Some(o) = story.objects.get(id) {
            let stored: BTreeSet<String> = o.leaf.locations.iter().cloned().collect();
            if &stored != locations {
                problems.push(format!(
                    "object {id}: the checks shown are of {locations:?}, its copies are at {stored:?}"
                ));
            }
        }
    }
    for (index, f) in &story.failures {
        let live = story
            .objects
            .get(&f.object)
            .is_some_and(|o| o.disposed.is_none());
        if f.run == run.run && live && !seen.get(&f.object).is_some_and(|l| l.contains(&f.location))
        {
            problems.push(format!(
                "the failure at entry {index} (object {} at {}) is of this run, which shows no check of it",
                f.object, f.location
            ));
        }
    }
    let unchecked: Vec<String> = story
        .objects
        .iter()
        .filter(|(id, o)| o.disposed.is_none() && !seen.contains_key(id))
        .map(|(id, o)| {
            if o.storage > run_index {
                format!("object {id} was stored after the run")
            } else {
                format!(
                    "object {id} (stored at entry {}) has no check in the run",
                    o.storage
                )
            }
        })
        .collect();
    verdict(problems, || {
        format!(
            "{} of {} lead to the run's root: {intact} intact, {failed} failed ({repaired} repaired){}",
            count(latest.checks.len(), "check", "checks"),
            count(seen.len(), "live object", "live objects"),
            if unchecked.is_empty() {
                String::new()
            } else {
                format!("; {}", unchecked.join("; "))
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::run;
    use crate::custody::{DisposalLeaf, FixityFailureLeaf, LegalHoldLeaf, RepairLeaf};
    use crate::receipt::{ReceiptInclusion, ReceiptLog};

    const DATASET: Uuid = Uuid::from_u128(0xd);
    const OBJECT: Uuid = Uuid::from_u128(0x0b);
    const RUN: Uuid = Uuid::from_u128(0x70);

    fn storage(retain_until: Option<&str>) -> CustodyLeaf {
        CustodyLeaf::Storage(StorageLeaf {
            v: 1,
            kind: CustodyKind::Storage,
            object: OBJECT,
            dataset_id: DATASET,
            version: 1,
            deposit: 1,
            encrypted: false,
            locations: vec!["disk1".into(), "disk2".into()],
            sha256: "ab".repeat(32),
            size: 10,
            retain_until: retain_until.map(str::to_owned),
            time: "2026-01-01T00:00:00.000Z".into(),
        })
    }

    fn failure(location: &str) -> CustodyLeaf {
        CustodyLeaf::FixityFailure(FixityFailureLeaf {
            v: 1,
            kind: CustodyKind::FixityFailure,
            object: OBJECT,
            dataset_id: DATASET,
            version: 1,
            run: RUN,
            location: location.into(),
            outcome: Outcome::Missing,
            found_sha256: None,
            found_size: None,
            time: "2026-01-02T00:00:00.000Z".into(),
        })
    }

    fn repair(failure: u64, location: &str) -> CustodyLeaf {
        CustodyLeaf::Repair(RepairLeaf {
            v: 1,
            kind: CustodyKind::Repair,
            object: OBJECT,
            dataset_id: DATASET,
            version: 1,
            run: RUN,
            location: location.into(),
            source: if location == "disk1" {
                "disk2"
            } else {
                "disk1"
            }
            .into(),
            failure,
            time: "2026-01-02T00:00:00.000Z".into(),
        })
    }

    fn hold(hold: bool) -> CustodyLeaf {
        CustodyLeaf::LegalHold(LegalHoldLeaf {
            v: 1,
            kind: CustodyKind::LegalHold,
            object: OBJECT,
            dataset_id: DATASET,
            version: 1,
            hold,
            reference: "case 1".into(),
            time: "2026-01-03T00:00:00.000Z".into(),
        })
    }

    fn disposal(storage: u64, time: &str) -> CustodyLeaf {
        CustodyLeaf::Disposal(DisposalLeaf {
            v: 1,
            kind: CustodyKind::Disposal,
            object: OBJECT,
            dataset_id: DATASET,
            version: 1,
            storage,
            by: None,
            locations: vec!["disk2".into(), "disk1".into()],
            sha256: "ab".repeat(32),
            time: time.into(),
        })
    }

    /// The problems the chain rules find in entries 10, 11, ... in this order.
    fn rules(leaves: Vec<CustodyLeaf>) -> Vec<String> {
        let read: Vec<(u64, CustodyLeaf)> = (10..).zip(leaves).collect();
        chain_rules(&read, &mut Story::default())
    }

    #[test]
    fn a_whole_chain_keeps_the_rules() {
        let problems = rules(vec![
            storage(Some("2027-01-01T00:00:00Z")),
            failure("disk2"),
            repair(11, "disk2"),
            hold(true),
            // A second hold changes nothing (the server accepts it); the lift ends it.
            hold(true),
            hold(false),
            disposal(10, "2027-01-01T00:00:00.000Z"),
        ]);
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases: Vec<(Vec<CustodyLeaf>, &str)> = vec![
            (vec![failure("disk1")], "the first entry of object"),
            (
                vec![storage(None), storage(None)],
                "already stored at entry 10",
            ),
            (
                vec![storage(None), failure("disk3")],
                "at disk3, where object",
            ),
            (
                vec![storage(None), failure("disk2"), repair(11, "disk1")],
                "no earlier failure of object",
            ),
            (
                vec![storage(None), repair(12, "disk2"), failure("disk2")],
                "no earlier failure of object",
            ),
            (
                vec![
                    storage(None),
                    failure("disk2"),
                    repair(11, "disk2"),
                    repair(11, "disk2"),
                ],
                "already repaired at entry 12",
            ),
            (
                vec![
                    storage(None),
                    hold(true),
                    disposal(10, "2026-02-01T00:00:00Z"),
                ],
                "under a legal hold",
            ),
            (
                vec![
                    storage(Some("2027-01-01T00:00:00Z")),
                    disposal(10, "2026-12-31T23:59:59Z"),
                ],
                "before its retention ended",
            ),
            (
                vec![storage(None), disposal(9, "2026-02-01T00:00:00Z")],
                "names storage entry 9, not 10",
            ),
            (
                vec![
                    storage(None),
                    disposal(10, "2026-02-01T00:00:00Z"),
                    hold(false),
                ],
                "after its disposal at entry 11",
            ),
        ];
        for (leaves, want) in cases {
            let kinds: Vec<&str> = leaves.iter().map(|l| l.kind().as_str()).collect();
            let problems = rules(leaves);
            assert!(
                problems.len() == 1 && problems[0].contains(want),
                "{kinds:?}: {problems:?}, want {want:?}"
            );
        }
        // A disposal that names another digest or other locations.
        let mut other = disposal(10, "2026-02-01T00:00:00Z");
        if let CustodyLeaf::Disposal(d) = &mut other {
            d.sha256 = "cd".repeat(32);
            d.locations.pop();
        }
        let problems = rules(vec![storage(None), other]);
        assert!(problems[0].contains("names digest"), "{problems:?}");
        assert!(problems[1].contains("names locations"), "{problems:?}");
    }

    fn receipt(index: u64) -> Receipt {
        Receipt {
            format: crate::receipt::RECEIPT_FORMAT.into(),
            log: ReceiptLog {
                origin: "o".into(),
                vkey: "k".into(),
            },
            index,
            leaf: String::new(),
            inclusion: ReceiptInclusion {
                tree_size: index + 1,
                hashes: Vec::new(),
            },
            checkpoint: String::new(),
            statement: None,
            opening: None,
            signer: None,
            witnessed: None,
        }
    }

    /// A run at entry 20 over `records` (between two checks of another object), with the
    /// chain's proofs of `shown` of them.
    fn run_of(records: &[CheckRecord], shown: &[usize]) -> (LatestRun, FixityLeaf) {
        let other = CheckRecord {
            object: Uuid::from_u128(0xff),
            location: "disk1".into(),
            outcome: Outcome::Intact,
            sha256: None,
            repaired: false,
        };
        let bytes: Vec<Vec<u8>> = std::iter::once(&other)
            .chain(records)
            .chain(std::iter::once(&other))
            .map(|r| r.to_bytes().unwrap())
            .collect();
        let hashes: Vec<run::Hash> = bytes.iter().map(|b| run::leaf_hash(b)).collect();
        let leaf = FixityLeaf {
            v: 1,
            kind: CustodyKind::Fixity,
            run: RUN,
            started: "2026-01-02T00:00:00Z".into(),
            checked: bytes.len() as u64,
            intact: 0,
            repaired: 0,
            root: crate::field::hex(&run::root(&hashes)),
            time: "2026-01-02T00:00:01Z".into(),
        };
        let checks = shown
            .iter()
            .map(|&i| CheckProof {
                index: 20,
                record: String::from_utf8(bytes[i + 1].clone()).unwrap(),
                leaf_index: i as u64 + 1,
                checked: bytes.len() as u64,
                path: run::path(&hashes, i + 1)
                    .unwrap()
                    .iter()
                    .map(|h| BASE64_STANDARD.encode(h))
                    .collect(),
            })
            .collect();
        let link = Link {
            index: 20,
            kind: "fixity".into(),
            receipt: receipt(20),
        };
        (LatestRun { run: link, checks }, leaf)
    }

    fn record(location: &str, outcome: Outcome, repaired: bool) -> CheckRecord {
        CheckRecord {
            object: OBJECT,
            location: location.into(),
            outcome,
            sha256: None,
            repaired,
        }
    }

    /// The fixity checks of a run against the chain `leaves` (entries 10, 11, ...).
    fn fixity(
        leaves: Vec<CustodyLeaf>,
        latest: &LatestRun,
        leaf: &FixityLeaf,
    ) -> Result<String, String> {
        let read: Vec<(u64, CustodyLeaf)> = (10..).zip(leaves).collect();
        let mut story = Story::default();
        assert_eq!(chain_rules(&read, &mut story), Vec::<String>::new());
        check_fixity(latest, leaf, &story).map_err(|e| e.to_string())
    }

    #[test]
    fn the_fixity_checks_agree_with_the_tree_and_the_chain() {
        let records = [
            record("disk1", Outcome::Intact, false),
            record("disk2", Outcome::Missing, true),
        ];
        let chain = || vec![storage(None), failure("disk2"), repair(11, "disk2")];
        let (latest, leaf) = run_of(&records, &[0, 1]);
        let ok = fixity(chain(), &latest, &leaf).unwrap();
        assert!(ok.contains("1 intact, 1 failed (1 repaired)"), "{ok}");

        // One copy's check left out: the object's checks must be all its copies'.
        let (partial, leaf) = run_of(&records, &[0]);
        let e = fixity(chain(), &partial, &leaf).unwrap_err();
        assert!(e.contains("the checks shown are of"), "{e}");
        assert!(e.contains("which shows no check of it"), "{e}");

        // A failure the chain does not have, a repair it does not have.
        let e = fixity(vec![storage(None)], &latest, &leaf).unwrap_err();
        assert!(e.contains("no such failure of it in this run"), "{e}");
        let e = fixity(vec![storage(None), failure("disk2")], &latest, &leaf).unwrap_err();
        assert!(e.contains("has no repair of it in this run"), "{e}");

        // Two records swapped: their paths no longer lead to the root.
        let mut moved = latest.clone();
        moved.checks[0].leaf_index = 2;
        moved.checks[1].leaf_index = 1;
        let e = fixity(chain(), &moved, &leaf).unwrap_err();
        assert!(
            e.contains("its path does not lead to the run's root"),
            "{e}"
        );

        // The object disposed of: its checks are of no live object.
        let mut gone = chain();
        gone.push(disposal(10, "2026-02-01T00:00:00Z"));
        let e = fixity(gone, &latest, &leaf).unwrap_err();
        assert!(e.contains("no live object of this chain"), "{e}");
    }
}
