//! The JSON Schemas of datapole's public formats, generated from the Rust types with
//! `schemars`. The committed copies under `schemas/` are checked against these by
//! `tests/schemas.rs`; regenerate them with `DATAPOLE_WRITE_SCHEMAS=1 cargo test --test schemas`.

use schemars::schema_for;
use serde_json::Value;

use crate::api::{log, metrics};
use crate::consent::{EventDocument, RecordLeaf};
use crate::custody::run::CheckRecord;
use crate::custody::{
    DisposalLeaf, DownloadLeaf, FixityFailureLeaf, FixityLeaf, LegalHoldLeaf, RepairLeaf,
    StorageLeaf,
};
use crate::decision::AccessRecord;
use crate::http::ErrorBody;
use crate::ledger::{accesses, archive, consents, deposits, fixity, participants};
use crate::participant::{
    ParticipantChangeLeaf, ParticipantLeaf, RegistrationRequest, RolesRequest,
};
use crate::receipt::Receipt;
use crate::statement::access::AccessPayload;
use crate::statement::consent::{ConsentActionPayload, ConsentPayload};
use crate::statement::deposit::{DepositLeaf, DepositPayload};
use crate::statement::dsse::Envelope;

/// Every schema, as (file name under `schemas/`, schema).
pub fn all() -> Vec<(&'static str, Value)> {
    fn json(schema: schemars::Schema) -> Value {
        schema.to_value()
    }
    vec![
        (
            "participant-leaf.schema.json",
            json(schema_for!(ParticipantLeaf)),
        ),
        (
            "registration-request.schema.json",
            json(schema_for!(RegistrationRequest)),
        ),
        (
            "registered.schema.json",
            json(schema_for!(participants::Registered)),
        ),
        (
            "participant.schema.json",
            json(schema_for!(participants::ParticipantView)),
        ),
        (
            "participant-change-leaf.schema.json",
            json(schema_for!(ParticipantChangeLeaf)),
        ),
        ("roles-request.schema.json", json(schema_for!(RolesRequest))),
        (
            "roles-changed.schema.json",
            json(schema_for!(participants::RolesChanged)),
        ),
        (
            "token-reissued.schema.json",
            json(schema_for!(participants::TokenReissued)),
        ),
        ("log-info.schema.json", json(schema_for!(log::LogInfo))),
        ("health.schema.json", json(schema_for!(metrics::Health))),
        ("ready.schema.json", json(schema_for!(metrics::Ready))),
        (
            "witness-info.schema.json",
            json(schema_for!(crate::witness::http::WitnessInfo)),
        ),
        ("entry.schema.json", json(schema_for!(log::EntryView))),
        (
            "inclusion-proof.schema.json",
            json(schema_for!(log::InclusionProof)),
        ),
        (
            "consistency-proof.schema.json",
            json(schema_for!(log::ConsistencyProof)),
        ),
        ("error.schema.json", json(schema_for!(ErrorBody<'static>))),
        ("receipt.v1.schema.json", json(schema_for!(Receipt))),
        ("dsse-envelope.schema.json", json(schema_for!(Envelope))),
        (
            "deposit-payload.schema.json",
            json(schema_for!(DepositPayload)),
        ),
        ("deposit-leaf.schema.json", json(schema_for!(DepositLeaf))),
        ("storage-leaf.schema.json", json(schema_for!(StorageLeaf))),
        ("fixity-leaf.schema.json", json(schema_for!(FixityLeaf))),
        (
            "fixity-failure-leaf.schema.json",
            json(schema_for!(FixityFailureLeaf)),
        ),
        ("repair-leaf.schema.json", json(schema_for!(RepairLeaf))),
        ("download-leaf.schema.json", json(schema_for!(DownloadLeaf))),
        (
            "legal-hold-leaf.schema.json",
            json(schema_for!(LegalHoldLeaf)),
        ),
        ("disposal-leaf.schema.json", json(schema_for!(DisposalLeaf))),
        ("fixity-check.schema.json", json(schema_for!(CheckRecord))),
        (
            "upload-opened.schema.json",
            json(schema_for!(archive::UploadOpened)),
        ),
        ("archived.schema.json", json(schema_for!(archive::Archived))),
        (
            "custody-receipt.schema.json",
            json(schema_for!(archive::CustodyReceipt)),
        ),
        (
            "custody-chain.schema.json",
            json(schema_for!(fixity::CustodyChain)),
        ),
        (
            "fixity-run.schema.json",
            json(schema_for!(fixity::FixityRun)),
        ),
        (
            "fixity-proof.schema.json",
            json(schema_for!(fixity::FixityProof)),
        ),
        (
            "deposit-accepted.schema.json",
            json(schema_for!(deposits::DepositAccepted)),
        ),
        (
            "deposit-list.schema.json",
            json(schema_for!(deposits::DepositList)),
        ),
        (
            "dataset.schema.json",
            json(schema_for!(deposits::DatasetView)),
        ),
        (
            "consent-payload.schema.json",
            json(schema_for!(ConsentPayload)),
        ),
        (
            "consent-action-payload.schema.json",
            json(schema_for!(ConsentActionPayload)),
        ),
        (
            "access-payload.schema.json",
            json(schema_for!(AccessPayload)),
        ),
        ("record-leaf.schema.json", json(schema_for!(RecordLeaf))),
        (
            "consent-event-document.schema.json",
            json(schema_for!(EventDocument)),
        ),
        ("access-record.schema.json", json(schema_for!(AccessRecord))),
        (
            "citizen-receipt.schema.json",
            json(schema_for!(consents::CitizenReceipt)),
        ),
        (
            "consent.schema.json",
            json(schema_for!(consents::ConsentView)),
        ),
        (
            "consent-event-recorded.schema.json",
            json(schema_for!(consents::ConsentEventRecorded)),
        ),
        (
            "consent-list.schema.json",
            json(schema_for!(consents::ConsentList)),
        ),
        (
            "access-decided.schema.json",
            json(schema_for!(accesses::AccessDecided)),
        ),
        (
            "access-list.schema.json",
            json(schema_for!(accesses::AccessList)),
        ),
    ]
}
