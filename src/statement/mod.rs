//! Signed statements: DSSE envelopes ([`dsse`]) and the typed payloads participants sign
//! ([`deposit`]). Every payload carries `issued_at` and `nonce` ([`Freshness`]): a statement
//! more than five minutes off the server clock is stale, and a (participant, nonce) pair is
//! accepted once. Pure code: the clock is a parameter.

pub mod access;
pub mod consent;
pub mod deposit;
pub mod dsse;

/// The commitment to a private document: SHA-256(salt || document bytes). The document is a
/// signed statement's envelope bytes, or a record the log wrote.
pub fn commitment(salt: &[u8], document: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(salt);
    h.update(document);
    h.finalize().into()
}

use chrono::{DateTime, Duration, Utc};

use crate::field::{invalid, Problems};

/// How far `issued_at` may be from the server clock.
pub const MAX_SKEW: Duration = Duration::minutes(5);

/// A statement's issue time and nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// When the statement was signed.
    pub issued_at: DateTime<Utc>,
    /// A value the participant never used before.
    pub nonce: String,
}

/// A statement too far from the server clock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("issued_at {issued_at} is more than 5 minutes from the server clock ({now})")]
pub struct Stale {
    /// The statement's time.
    pub issued_at: DateTime<Utc>,
    /// The server's time.
    pub now: DateTime<Utc>,
}

impl Freshness {
    /// Parses `issued_at` (RFC 3339) and checks the nonce's shape (16 to 128 characters of
    /// `A-Z a-z 0-9 - _ + / =`).
    /// Both are checked: a statement wrong in both hears of both.
    pub fn parse(issued_at: &str, nonce: &str) -> Result<Self, Problems> {
        let mut problems = Problems::new();
        let issued_at = problems.check(
            DateTime::parse_from_rfc3339(issued_at)
                .map_err(|e| invalid("issued_at", format!("is not an RFC 3339 time ({e})"))),
        );
        let ok = (16..=128).contains(&nonce.len())
            && nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_+/=".contains(&b));
        if !ok {
            problems.push(invalid(
                "nonce",
                "must be 16 to 128 characters of A-Z a-z 0-9 - _ + / =",
            ));
        }
        match issued_at {
            Some(t) if problems.is_empty() => Ok(Self {
                issued_at: t.with_timezone(&Utc),
                nonce: nonce.to_owned(),
            }),
            _ => Err(problems),
        }
    }

    /// Checks the issue time against the server clock.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), Stale> {
        if (self.issued_at - now).abs() > MAX_SKEW {
            Err(Stale {
                issued_at: self.issued_at,
                now,
            })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_window_is_five_minutes_either_way() {
        let now = Utc::now();
        let f = |offset: i64| Freshness {
            issued_at: now + Duration::seconds(offset),
            nonce: "n".repeat(16),
        };
        assert!(f(0).check(now).is_ok());
        assert!(f(299).check(now).is_ok());
        assert!(f(-299).check(now).is_ok());
        assert!(f(301).check(now).is_err());
        assert!(f(-301).check(now).is_err());
    }

    #[test]
    fn nonces_and_times_are_checked() {
        assert!(Freshness::parse("2026-11-28T10:00:00Z", "abcdefghijklmnop").is_ok());
        assert!(Freshness::parse("2026-11-28T10:00:00+01:00", "abcdefghijklmnop").is_ok());
        assert_eq!(
            Freshness::parse("yesterday", "abcdefghijklmnop")
                .unwrap_err()
                .first()
                .unwrap()
                .field,
            "issued_at"
        );
        assert_eq!(
            Freshness::parse("2026-11-28T10:00:00Z", "short")
                .unwrap_err()
                .first()
                .unwrap()
                .field,
            "nonce"
        );
        assert_eq!(
            Freshness::parse("2026-11-28T10:00:00Z", &"é".repeat(20))
                .unwrap_err()
                .first()
                .unwrap()
                .field,
            "nonce"
        );
    }
}
