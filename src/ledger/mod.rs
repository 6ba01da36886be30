//! The ledger: datapole's domain services over the log. Registration, deposits and their
//! versions, a consent's life, access decisions, listings and receipts are plain functions
//! here, over the log's [`Store`] and [`Sequencer`]; the HTTP API parses a request, calls one
//! of them and maps the result. No HTTP type appears here, and every rule is unit-tested on
//! the in-memory store (`tests` below).
//!
//! A write goes down once and comes back up once: the ledger checks the statement and its
//! preconditions, builds the typed entry ([`crate::entry::Entry`]), its index keys
//! ([`keys`]) and its off-log record, hands them to the sequencer, and builds the receipt from
//! what it handed over and the checkpoint the sequencer answered with; it never reads back
//! the entry it has just written. Reads go through a [`View`]: one published checkpoint,
//! beyond which nothing is seen.

pub mod accesses;
pub mod archive;
pub mod consents;
pub mod deposits;
pub mod fixity;
pub mod keys;
pub mod participants;
pub mod receipts;
pub mod statements;

mod test_hooks;
#[cfg(test)]
mod tests;
mod view;

use std::sync::Arc;

use crate::error::{Code, Error};
use crate::log::{AppendError, AppendRequest, Appended, IndexKey, Sequencer, SignedCheckpoint};
use crate::witnessing::collector::Witnessing;

#[cfg(feature = "test-hooks")]
pub use test_hooks::MARKER as TEST_HOOKS_MARKER;
pub use view::{Page, Stored, View};

/// The most items one page of a listing holds.
pub const MAX_PAGE: usize = 1000;

/// The domain services, over one log.
pub struct Ledger {
    log: Sequencer,
    participants: participants::Cache,
    witnessing: Option<Arc<Witnessing>>,
    archive: Option<Arc<crate::archive::Archive>>,
}

/// How a write ended: its entry's index, and whether the witnesses' quorum cosigned it before
/// the answer (`None` on a log without witnesses; `Some(false)`: not yet, the receipt is the
/// log's alone and the API answers 202).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The entry's index.
    pub index: u64,
    /// Cosigned by the witnesses' quorum in time.
    pub witnessed: Option<bool>,
}

impl Ledger {
    /// The ledger of the log `log`.
    pub fn new(log: Sequencer) -> Self {
        Self {
            log,
            participants: participants::Cache::default(),
            witnessing: None,
            archive: None,
        }
    }

    /// The same ledger, keeping datasets' bytes in `archive`.
    pub fn with_archive(mut self, archive: Arc<crate::archive::Archive>) -> Self {
        self.archive = Some(archive);
        self
    }

    /// The same ledger, whose receipts wait for the witnesses' cosignatures.
    pub fn with_witnessing(mut self, witnessing: Arc<Witnessing>) -> Self {
        self.witnessing = Some(witnessing);
        self
    }

    /// The log (its signer, its health, its queue).
    pub fn log(&self) -> &Sequencer {
        &self.log
    }

    /// The log's witnessing, when witnesses are configured.
    pub fn witnessing(&self) -> Option<&Arc<Witnessing>> {
        self.witnessing.as_ref()
    }

    /// The published view now: the latest checkpoint, and the latest the witnesses cosigned.
    pub fn view(&self) -> View<'_> {
        // The cosigned checkpoint first: it is then never newer than the latest.
        let cosigned = self.witnessing.as_ref().and_then(|w| w.cosigned());
        View::new(
            self.log.store(),
            self.log.latest(),
            cosigned,
            self.witnessing.is_some(),
        )
    }

    /// The checkpoint the log serves: with witnesses, the latest that met the quorum (none
    /// before the first); without, the latest signed.
    pub fn served_checkpoint(&self) -> Option<Arc<SignedCheckpoint>> {
        match &self.witnessing {
            None => Some(self.log.latest()),
            Some(w) => w.cosigned(),
        }
    }

    /// Whether a unique key is taken, published or not: the preconditions of a write see
    /// what the sequencer has committed and not yet published, so that a retry is refused
    /// before it is queued. The sequencer checks again when it sequences the entry.
    fn taken(&self, key: &IndexKey) -> Result<Option<u64>, Error> {
        Ok(self.log.store().lookup(key)?)
    }

    /// Appends through the sequencer, then, with witnesses, waits (up to the configured time)
    /// for a cosigned checkpoint that covers the entry: the receipt is built against it.
    async fn append(&self, request: AppendRequest) -> Result<Settled, AppendError> {
        let appended = self.log.append(request).await?;
        Ok(self.settle(appended).await)
    }

    async fn settle(&self, appended: Appended) -> Settled {
        let (checkpoint, witnessed) = match &self.witnessing {
            None => (appended.checkpoint.clone(), None),
            Some(w) => match w.wait_for(appended.index).await {
                Some(cp) => (cp, Some(true)),
                None => (appended.checkpoint.clone(), Some(false)),
            },
        };
        Settled {
            written: Written {
                index: appended.index,
                witnessed,
            },
            against: receipts::Against {
                checkpoint,
                witnessed,
            },
        }
    }
}

/// An appended entry and the checkpoint its receipt is built against.
struct Settled {
    written: Written,
    against: receipts::Against,
}

/// The answer to an append the sequencer refused, for a refusal the caller has no answer of
/// its own for.
fn refused(e: AppendError) -> Error {
    let message = e.to_string();
    match e {
        AppendError::TooLarge(_) => Error::new(Code::EntryTooLarge, message),
        AppendError::Conflict(index) => match keys::Taken::of(index) {
            keys::Taken::ParticipantKey => Error::new(
                Code::DuplicateKey,
                "a participant with this public key is already registered",
            ),
            keys::Taken::Nonce => {
                Error::new(Code::Replayed, "this participant already used this nonce")
            }
            _ => Error::new(Code::Conflict, message),
        },
        AppendError::Overloaded => Error::new(Code::Overloaded, message),
        AppendError::Storage(_) => Error::new(Code::StorageUnavailable, message),
        AppendError::Stopped => Error::new(Code::Unavailable, message),
    }
}

/// 32 random bytes from the OS.
fn random32() -> [u8; 32] {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// A value the ledger was about to write could not be written as JSON: a 500, and nothing
/// is written.
fn encode(e: crate::json::EncodeError) -> Error {
    tracing::error!(error = %e, "an entry could not be encoded");
    Error::new(
        Code::Internal,
        "an entry could not be encoded; nothing was written",
    )
}
