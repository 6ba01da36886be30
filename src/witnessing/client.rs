//! The log's side of c2sp.org/tlog-witness: submitting a checkpoint to one witness with the
//! consistency proof from the size that witness last cosigned, learning that size from a 409,
//! and keeping only a cosignature that verifies with the witness's configured key.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use signed_note::Note;
use tlog_tiles::Hash;

use crate::log::tree::TreeError;
use crate::log::SignedCheckpoint;
use crate::witness::cosignature::{CosignatureVerifier, KeyError};
use crate::witness::{AddCheckpoint, SIZE_CONTENT_TYPE};

/// How many times one submission follows a witness's 409 to another old size.
const MAX_CONFLICT_RETRIES: usize = 10;

/// Why a witness gave no cosignature.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubmitError {
    /// The witness could not be reached or did not answer in time.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The witness refused the checkpoint with this status.
    #[error("refused with status {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
    /// The witness says it cosigned a larger tree of this log than the log has: the log or
    /// the witness has seen another history.
    #[error("the witness has cosigned size {witness} of this log, beyond the log's {log}")]
    AheadOfLog {
        /// The witness's size.
        witness: u64,
        /// The log's size.
        log: u64,
    },
    /// The answer had no cosignature verifying with the configured key.
    #[error("no valid cosignature in the answer: {0}")]
    BadCosignature(String),
    /// The log could not build the consistency proof.
    #[error("cannot prove consistency from {from}: {detail}")]
    Proof {
        /// The old size.
        from: u64,
        /// What went wrong.
        detail: String,
    },
    /// The witness kept answering 409 with other sizes.
    #[error("too many size conflicts")]
    Conflicts,
}

/// Why a configured witness cannot be talked to.
#[derive(Debug, thiserror::Error)]
pub enum WitnessClientError {
    /// Its key is not a `cosignature/v1` verifier key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Its URL is not an http or https URL (the URL, trailing slashes removed).
    #[error("witness URL {0:?} is not http(s)")]
    NotHttp(String),
}

/// What the witness answered to one request.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// 200 with these signature lines.
    Cosigned(Vec<u8>),
    /// 409 with a `text/x.tlog.size` body: the size the witness last cosigned.
    SizeConflict(u64),
    /// Anything else.
    Other {
        /// The status.
        status: u16,
        /// The body.
        body: Vec<u8>,
    },
}

/// Reads an answer per c2sp.org/tlog-witness: a 409 is a size conflict only with exactly
/// `text/x.tlog.size` and a canonical decimal followed by a newline.
pub fn interpret(status: u16, content_type: &str, body: Vec<u8>) -> Answer {
    if status == 200 {
        return Answer::Cosigned(body);
    }
    if status == 409 && content_type == SIZE_CONTENT_TYPE {
        let size = std::str::from_utf8(&body)
            .ok()
            .and_then(|s| s.strip_suffix('\n'))
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .filter(|s| *s == "0" || !s.starts_with('0'))
            .and_then(|s| s.parse().ok());
        if let Some(size) = size {
            return Answer::SizeConflict(size);
        }
    }
    Answer::Other { status, body }
}

/// One configured witness, as the log talks to it.
pub struct WitnessClient {
    /// The URL of `add-checkpoint`.
    url: String,
    /// The witness's base URL as configured.
    base: String,
    verifier: CosignatureVerifier,
    agent: ureq::Agent,
    /// The size the log believes this witness last cosigned (0: unknown, ask).
    size: AtomicU64,
}

impl WitnessClient {
    /// A witness at `base` (its submission prefix) whose key is `vkey` (`cosignature/v1`).
    pub fn new(base: &str, vkey: &str, timeout: Duration) -> Result<Self, WitnessClientError> {
        let verifier = CosignatureVerifier::from_vkey(vkey)?;
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(WitnessClientError::NotHttp(base));
        }
        Ok(Self {
            url: format!("{base}/add-checkpoint"),
            base,
            verifier,
            agent: ureq::AgentBuilder::new().timeout(timeout).build(),
            size: AtomicU64::new(0),
        })
    }

    /// The witness's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The witness's verifier.
    pub fn verifier(&self) -> &CosignatureVerifier {
        &self.verifier
    }

    /// The size this witness last cosigned, as far as the log knows.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }

    fn post(&self, body: &[u8]) -> Result<Answer, SubmitError> {
        let response = match self.agent.post(&self.url).send_bytes(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(SubmitError::Unreachable(e.to_string())),
        };
        let status = response.status();
        let content_type = response.header("content-type").unwrap_or("").to_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(response.into_reader(), 64 * 1024),
            &mut bytes,
        )
        .map_err(|e| SubmitError::Unreachable(e.to_string()))?;
        Ok(interpret(status, &content_type, bytes))
    }

    /// Submits `checkpoint`, proving consistency with `prove(from, to)`; returns the
    /// witness's verified cosignature line and how long it took.
    pub fn submit(
        &self,
        checkpoint: &SignedCheckpoint,
        prove: &dyn Fn(u64, u64) -> Result<Vec<Hash>, TreeError>,
    ) -> Result<(signed_note::Signature, Duration), SubmitError> {
        let started = Instant::now();
        let text = Note::from_bytes(checkpoint.note.as_bytes())
            .map_err(|e| SubmitError::BadCosignature(format!("the log's own note: {e}")))?
            .text()
            .to_vec();
        for _ in 0..MAX_CONFLICT_RETRIES {
            let old = self.size().min(checkpoint.size);
            let proof = if old == 0 || old == checkpoint.size {
                Vec::new()
            } else {
                prove(old, checkpoint.size).map_err(|e| SubmitError::Proof {
                    from: old,
                    detail: e.to_string(),
                })?
            };
            let request = AddCheckpoint {
                old_size: old,
                proof,
                note: checkpoint.note.as_bytes().to_vec(),
            };
            match self.post(&request.to_bytes())? {
                Answer::Cosigned(lines) => {
                    let line = String::from_utf8_lossy(&lines)
                        .lines()
                        .filter_map(|l| signed_note::Signature::from_bytes(l.as_bytes()).ok())
                        .find(|sig| self.verifier.check(&text, sig).is_some())
                        .ok_or_else(|| {
                            SubmitError::BadCosignature(
                                String::from_utf8_lossy(&lines).chars().take(200).collect(),
                            )
                        })?;
                    self.size.store(checkpoint.size, Ordering::Relaxed);
                    return Ok((line, started.elapsed()));
                }
                Answer::SizeConflict(size) if size > checkpoint.size => {
                    return Err(SubmitError::AheadOfLog {
                        witness: size,
                        log: checkpoint.size,
                    })
                }
                Answer::SizeConflict(size) if size == old => {
                    // A 409 naming the size we sent: nothing to learn from retrying.
                    return Err(SubmitError::Refused {
                        status: 409,
                        body: format!("{size}"),
                    });
                }
                Answer::SizeConflict(size) => self.size.store(size, Ordering::Relaxed),
                Answer::Other { status, body } => {
                    return Err(SubmitError::Refused {
                        status,
                        body: String::from_utf8_lossy(&body).chars().take(200).collect(),
                    })
                }
            }
        }
        Err(SubmitError::Conflicts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_conflicts_are_read_as_strictly_as_the_spec_writes_them() {
        let t = SIZE_CONTENT_TYPE;
        assert_eq!(interpret(409, t, b"7\n".to_vec()), Answer::SizeConflict(7));
        assert_eq!(interpret(409, t, b"0\n".to_vec()), Answer::SizeConflict(0));
        for bad in [&b"7"[..], b"07\n", b"\n", b"x\n", b"7\n\n"] {
            assert!(matches!(
                interpret(409, t, bad.to_vec()),
                Answer::Other { status: 409, .. }
            ));
        }
        assert!(matches!(
            interpret(409, "text/plain", b"7\n".to_vec()),
            Answer::Other { status: 409, .. }
        ));
        assert_eq!(
            interpret(200, "text/plain", b"x".to_vec()),
            Answer::Cosigned(b"x".to_vec())
        );
    }
}
