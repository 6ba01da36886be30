//! The archive as the ledger sees it: its locations (the first is where uploads are staged,
//! so that adopting a staged object there is a link, not a copy), its upload sessions, its
//! limits, and the running counts it answers quotas and health with. The rules of custody
//! (who may upload, download or dispose, what is logged) are the ledger's.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

use super::location::{DirLocation, Location};
use super::uploads::Uploads;
use super::ArchiveError;

/// The archive's limits and schedule.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest object, in bytes.
    pub max_object: u64,
    /// Each participant's quota: the bytes of its live objects and open uploads.
    pub quota: u64,
    /// How long an upload session lives without a byte.
    pub upload_idle: chrono::Duration,
    /// The scrubber's read budget in bytes per second (`None`: unthrottled).
    pub fixity_budget: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_object: 1 << 40,
            quota: 1 << 42,
            upload_idle: chrono::Duration::hours(24),
            fixity_budget: Some(64 << 20),
        }
    }
}

/// What the archive counts as it goes.
#[derive(Debug, Default)]
pub struct Counts {
    /// Bytes of live objects, by depositor.
    pub usage: HashMap<Uuid, u64>,
    /// Live objects.
    pub objects: u64,
    /// Failed copies not repaired yet, by object.
    pub unrepaired: HashMap<Uuid, u64>,
    /// Copies found failed since start.
    pub failures_total: u64,
    /// Copies repaired since start.
    pub repairs_total: u64,
    /// Fixity runs since start, and the last one's end (Unix seconds).
    pub runs_total: u64,
    /// The last run's end.
    pub last_run: Option<i64>,
}

/// The archive's storage and sessions.
pub struct Archive {
    locations: Vec<Arc<dyn Location>>,
    uploads: Uploads,
    limits: Limits,
    counts: Mutex<Counts>,
    serial: tokio::sync::Mutex<()>,
}

impl Archive {
    /// An archive over `locations` (at least one), staging uploads in `uploads_dir` (on the
    /// first location's file system).
    pub fn new(
        locations: Vec<Arc<dyn Location>>,
        uploads: Uploads,
        limits: Limits,
    ) -> Result<Self, ArchiveError> {
        if locations.is_empty() {
            return Err(ArchiveError::Corrupt("an archive needs a location".into()));
        }
        let mut names: Vec<&str> = locations.iter().map(|l| l.name()).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() != locations.len() {
            return Err(ArchiveError::Corrupt(
                "two archive locations have the same name".into(),
            ));
        }
        Ok(Self {
            locations,
            uploads,
            limits,
            counts: Mutex::new(Counts::default()),
            serial: tokio::sync::Mutex::new(()),
        })
    }

    /// The default archive of a data directory: one location `<dir>/archive` named `local`,
    /// or the given `(name, directory)` locations; uploads staged under the first one.
    pub fn open_dirs(
        data_dir: &Path,
        locations: &[(String, std::path::PathBuf)],
        limits: Limits,
    ) -> Result<Self, ArchiveError> {
        let default = [("local".to_owned(), data_dir.join("archive"))];
        let list = if locations.is_empty() {
            &default[..]
        } else {
            locations
        };
        let mut opened: Vec<Arc<dyn Location>> = Vec::new();
        for (name, dir) in list {
            opened.push(Arc::new(DirLocation::open(name, dir)?));
        }
        let staging = list[0].1.join("uploads");
        let uploads = Uploads::open(&staging, limits.upload_idle)
            .map_err(|e| ArchiveError::Corrupt(format!("opening the upload sessions: {e}")))?;
        Self::new(opened, uploads, limits)
    }

    /// The locations, the first being where uploads are staged.
    pub fn locations(&self) -> &[Arc<dyn Location>] {
        &self.locations
    }

    /// The location named `name`.
    pub fn location(&self, name: &str) -> Option<&Arc<dyn Location>> {
        self.locations.iter().find(|l| l.name() == name)
    }

    /// The upload sessions.
    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Serialises the custody writes that must see each other: holds, disposals, fixity
    /// runs.
    pub fn serial(&self) -> &tokio::sync::Mutex<()> {
        &self.serial
    }

    /// The running counts.
    pub fn counts(&self) -> MutexGuard<'_, Counts> {
        // Counters only: a panic mid-update leaves numbers, not broken invariants.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}
