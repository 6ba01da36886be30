//! datapole: a regional trusted third party for data.
//!
//! An append-only Merkle log (RFC 9162, c2sp.org/tlog-tiles) of signed statements: participant
//! registrations, dataset deposits, consents and accesses. Data flows one way: a request enters
//! [`api`], becomes a typed [`participant`] record, is appended by [`log`], and leaves as a
//! receipt that [`verify`] can check without trusting the operator; independent [`witness`]es
//! cosign its checkpoints so that it cannot show two histories.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
/// The archive's object storage: dataset bytes kept write-once, locked, fixity-checked.
pub mod archive;
pub mod audit;
pub mod cli;
pub mod consent;
pub mod custody;
pub mod decision;
pub mod entry;
pub mod error;
pub mod field;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod http;
pub mod json;
pub mod ledger;
pub mod log;
pub mod participant;
pub mod receipt;
pub mod schemas;
pub mod shape;
pub mod statement;
pub mod verify;
pub mod web;
pub mod witness;
pub mod witnessing;
