//! The archive's object storage: the bytes of archived datasets ("objects"), where they are
//! kept, and their locks.
//!
//! An object is written once, under a random [`ObjectId`] (never its plaintext's SHA-256, which
//! would tell who holds a known file), into one or more [`Location`]s: a directory
//! ([`DirLocation`], for example one per disk) or, later, an S3 bucket with Object Lock. It is
//! first *incoming* (written and durable, but its custody entry is not on the log yet, so it
//! may be discarded), then *promoted*: committed, read-only, and under a [`Lock`] (retain until
//! a date, legal hold) that the location itself enforces, so that a bug above cannot delete a
//! retained object. A private dataset's object holds its age ciphertext
//! (age-encryption.org/v1, [`crypt`]), each under its own key. The [`fixity`] scrubber re-reads
//! objects within an I/O [`Budget`] and repairs a damaged copy from an intact one.
//!
//! This module does not touch the log, HTTP, or the ledger, and does not decide who may read an
//! object: the layers above record custody on the log, keep the keys, and check consents; they
//! call in here with an id, a lock and bytes.
//!
//! [`ObjectId`]: crate::archive::ObjectId
//! [`Location`]: crate::archive::Location
//! [`DirLocation`]: crate::archive::DirLocation
//! [`Lock`]: crate::archive::Lock
//! [`crypt`]: crate::archive::crypt
//! [`fixity`]: crate::archive::fixity
//! [`Budget`]: crate::archive::Budget

pub mod budget;
pub mod crypt;
pub mod fixity;
pub mod location;
pub mod memory;
pub mod uploads;
pub mod vault;

#[cfg(test)]
mod location_tests;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use budget::{Budget, Clock, SystemClock};
pub use crypt::{
    decrypt, encrypt_reader, encrypt_to, DecryptReader, EncryptReader, EncryptWriter, ObjectKey,
};
pub use fixity::{check, repair, Outcome};
pub use location::{DirLocation, Location, ObjectReader};
pub use memory::MemoryLocation;
pub use vault::Archive;

/// The name of an archived object: a random (version 4) UUID, written hyphenated in lower
/// case. It says nothing of the object's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(uuid::Uuid);

impl ObjectId {
    /// A new random id.
    #[allow(clippy::new_without_default)] // no `Default`: a default that differs each time would surprise
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// The UUID.
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl From<uuid::Uuid> for ObjectId {
    fn from(u: uuid::Uuid) -> Self {
        Self(u)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Why a string is not an [`ObjectId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an object id (a hyphenated lower-case UUID): {0:?}")]
pub struct InvalidObjectId(pub String);

impl FromStr for ObjectId {
    type Err = InvalidObjectId;

    /// Only the form [`fmt::Display`] writes: 36 characters, hyphenated, lower case (so that one
    /// object has one file name).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidObjectId(s.chars().take(64).collect());
        let u = uuid::Uuid::try_parse(s).map_err(|_| bad())?;
        if u.hyphenated().to_string() != s {
            return Err(bad());
        }
        Ok(Self(u))
    }
}

impl Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What was written: the size and SHA-256 of an object's stored bytes (for a private object,
/// of its ciphertext), the values fixity checks are made against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Written {
    /// The number of bytes.
    pub size: u64,
    /// Their SHA-256.
    pub sha256: [u8; 32],
}

impl Written {
    /// The size and SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        Self {
            size: bytes.len() as u64,
            sha256: sha2::Sha256::digest(bytes).into(),
        }
    }
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes, sha256 {}",
            self.size,
            crate::field::hex(&self.sha256)
        )
    }
}

/// A committed object's lock: kept until a date, and under a legal hold or not. The location
/// refuses to remove the object while either holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lock {
    /// The object may not be removed before this instant (`None`: no retention period).
    pub retain_until: Option<DateTime<Utc>>,
    /// A legal hold: the object may not be removed at all while it is set.
    pub hold: bool,
}

impl Lock {
    /// Whether this lock keeps the object at least as long as `other` does: a retention that
    /// ends no earlier, and a hold wherever `other` has one.
    pub fn covers(&self, other: &Lock) -> bool {
        let retention = match (self.retain_until, other.retain_until) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => a >= b,
        };
        retention && (self.hold || !other.hold)
    }

    /// The lock that keeps the object as long as either does (retention can only be extended).
    pub fn strongest(&self, other: &Lock) -> Lock {
        Lock {
            retain_until: self.retain_until.max(other.retain_until),
            hold: self.hold || other.hold,
        }
    }

    /// Why this lock forbids removing the object at `now`, if it does.
    pub fn forbids_removal(&self, now: DateTime<Utc>) -> Option<ArchiveError> {
        match self.retain_until {
            Some(until) if now < until => Some(ArchiveError::Retained { until }),
            _ if self.hold => Some(ArchiveError::Held),
            _ => None,
        }
    }
}

/// Why an archive operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file system (or, for another location, its backend) failed.
    #[error("archive i/o failure while {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// No such object (committed, or incoming, as the operation asks).
    #[error("no object {0}")]
    NotFound(ObjectId),
    /// The object is under retention until this instant.
    #[error("object retained until {until}")]
    Retained {
        /// The end of the retention period.
        until: DateTime<Utc>,
    },
    /// The object is under a legal hold.
    #[error("object under legal hold")]
    Held,
    /// Bytes are not the ones expected; nothing was replaced or kept.
    #[error("bytes do not match: expected {expected}, found {found}")]
    Mismatch {
        /// What the caller expected.
        expected: Written,
        /// What the bytes were.
        found: Written,
    },
    /// The object already exists, with other bytes or another lock: it is never overwritten.
    #[error("object {0} already exists")]
    Exists(ObjectId),
    /// What a location holds is not what it should (a lock manifest unreadable, an object
    /// without its lock, a copy that is not intact).
    #[error("archive corrupt: {0}")]
    Corrupt(String),
    /// Encryption or decryption failed (a key that does not parse, the wrong key, a damaged
    /// header).
    #[error("archive crypto failure: {0}")]
    Crypto(String),
}

/// The `map_err` for an I/O failure: `action` on `path`.
pub(crate) fn io_error(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> ArchiveError {
    let path = path.into();
    move |source| ArchiveError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_id_is_written_one_way_and_parsed_only_that_way() {
        let id = ObjectId::new();
        let s = id.to_string();
        assert_eq!(s.len(), 36);
        assert_eq!(s, s.to_lowercase());
        assert_eq!(s.parse::<ObjectId>().unwrap(), id);
        assert_eq!(id.as_uuid().get_version_num(), 4);
        assert!(s.to_uppercase().parse::<ObjectId>().is_err());
        assert!(id
            .as_uuid()
            .simple()
            .to_string()
            .parse::<ObjectId>()
            .is_err());
        assert!(format!("{{{s}}}").parse::<ObjectId>().is_err());
        assert!(format!("{s}.lock").parse::<ObjectId>().is_err());
        assert!("".parse::<ObjectId>().is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{s}\""));
        assert_eq!(serde_json::from_str::<ObjectId>(&json).unwrap(), id);
        assert_ne!(ObjectId::new(), id);
    }

    #[test]
    fn a_lock_covers_a_weaker_one_and_forbids_removal_while_it_holds() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let none = Lock::default();
        let y30 = Lock {
            retain_until: Some(t("2030-01-01T00:00:00Z")),
            hold: false,
        };
        let y40 = Lock {
            retain_until: Some(t("2040-01-01T00:00:00Z")),
            hold: false,
        };
        let held = Lock {
            retain_until: None,
            hold: true,
        };
        assert!(y40.covers(&y30) && y30.covers(&none) && y30.covers(&y30));
        assert!(!y30.covers(&y40) && !none.covers(&y30) && !y40.covers(&held));
        assert_eq!(
            y30.strongest(&held),
            Lock {
                retain_until: y30.retain_until,
                hold: true
            }
        );
        assert!(matches!(
            y30.forbids_removal(t("2029-12-31T23:59:59Z")),
            Some(ArchiveError::Retained { until }) if until == t("2030-01-01T00:00:00Z")
        ));
        assert!(y30.forbids_removal(t("2030-01-01T00:00:00Z")).is_none());
        assert!(matches!(
            held.forbids_removal(t("2100-01-01T00:00:00Z")),
            Some(ArchiveError::Held)
        ));
        assert!(none.forbids_removal(t("2000-01-01T00:00:00Z")).is_none());
    }
}
