//! Hooks that let black-box tests drive the race between an access decision and a consent's
//! withdrawal or erasure deterministically. Compiled only with the non-default `test-hooks`
//! cargo feature (which the test build turns on through a dev-dependency on this crate, and
//! which a release build never has: `.ci/run` checks the release binary for
//! [`MARKER`]), and active only when the server's environment names a directory in
//! `DATAPOLE_TEST_HOOKS`. Without the feature every hook is an empty inline function.
//!
//! In that directory:
//! - `hold`: a permit decided on the consent basis is held before it is appended: the
//!   ledger writes `held-<attempt>` (1 for the first decision, 2 after one lost race, ...)
//!   and waits until `release` exists;
//! - `pin-view`: every attempt of a request decides on the tree its first attempt saw, as a
//!   server whose published view lags behind its store would: a consent ended meanwhile
//!   still looks in force, so every attempt loses its race and the ledger gives up.

/// A string only a binary built with the hooks contains.
#[cfg(feature = "test-hooks")]
pub const MARKER: &str = "datapole-test-hooks-compiled-in";

/// The hooks of one access request's decisions.
pub(crate) struct Decision {
    #[cfg(feature = "test-hooks")]
    dir: Option<std::path::PathBuf>,
    #[cfg(feature = "test-hooks")]
    pinned: Option<u64>,
}

#[cfg(not(feature = "test-hooks"))]
impl Decision {
    /// No hooks.
    #[inline(always)]
    pub(crate) fn start() -> Self {
        Self {}
    }

    /// The size of the tree a decision reads: the latest.
    #[inline(always)]
    pub(crate) fn view_size(&mut self, latest: u64) -> u64 {
        latest
    }

    /// Nothing to wait for.
    #[inline(always)]
    pub(crate) async fn before_permit_append(&mut self, _attempt: usize) {}
}

#[cfg(feature = "test-hooks")]
impl Decision {
    /// The hooks the environment asks for.
    pub(crate) fn start() -> Self {
        Self {
            dir: std::env::var_os("DATAPOLE_TEST_HOOKS").map(std::path::PathBuf::from),
            pinned: None,
        }
    }

    /// The size of the tree a decision reads: the latest, or with `pin-view` the one the
    /// request's first attempt saw.
    pub(crate) fn view_size(&mut self, latest: u64) -> u64 {
        match &self.dir {
            Some(dir) if dir.join("pin-view").exists() => *self.pinned.get_or_insert(latest),
            _ => latest,
        }
    }

    /// With `hold`: says `held-<attempt>` and waits for `release` (at most a minute, so that a
    /// broken test cannot hang the server for ever).
    pub(crate) async fn before_permit_append(&mut self, attempt: usize) {
        let Some(dir) = &self.dir else { return };
        if !dir.join("hold").exists() {
            return;
        }
        tracing::warn!(marker = MARKER, attempt, "test hook: holding a permit");
        let _ = std::fs::write(dir.join(format!("held-{attempt}")), b"");
        for _ in 0..6000 {
            if dir.join("release").exists() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
