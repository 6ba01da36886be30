//! The log's side of c2sp.org/tlog-witness: the log submitting each new checkpoint to its
//! configured witnesses and publishing it once a quorum has cosigned it.
//!
//! It owns the witness clients ([`client`]: one submission, with its consistency proof and the
//! 409 size dance) and the rounds over all of them ([`collector`]: threads, quorum, the
//! cosigned checkpoint kept in the store). It speaks the protocol of [`crate::witness`] (the
//! request format and `cosignature/v1`) and counts cosignatures with [`crate::verify`]; it
//! must not touch the witness's own state or HTTP server, and knows nothing of the API or of
//! HTTP serving: [`crate::api`] reads its cosigned checkpoint and statistics.

pub mod client;
pub mod collector;
