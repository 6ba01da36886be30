//! The error codes every answer of datapole's servers uses, and the one error type that carries
//! them from the ledger, the log's HTTP API and the witness to the client.
//!
//! A code has one HTTP status and one documented meaning, listed once in [`codes!`] below;
//! `docs/reference/errors.md` is generated from this list (and checked for drift by
//! `tests/reference_docs.rs`). No HTTP framework type appears here: the HTTP kit
//! ([`crate::http`]) turns an [`Error`] into a response.

use crate::field::InvalidField;
use crate::log::{StoreError, TreeError};

macro_rules! codes {
    ($( $variant:ident = ($status:literal, $code:literal, $when:literal), )*) => {
        /// A stable, machine-readable error code, with its HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(
                #[doc = $when]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in the order of the reference.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as answered: snake_case.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The HTTP status every answer with this code has.
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            /// When a client gets it (one paragraph of the reference).
            pub fn when(self) -> &'static str {
                match self { $(Code::$variant => $when,)* }
            }
        }
    };
}

codes! {
    MalformedJson = (400, "malformed_json", "The body of `POST /v1/participants` is not JSON"),
    MalformedEnvelope = (400, "malformed_envelope", "A statement (`POST /v1/deposits`, `/v1/consents`, `/v1/accesses`, or a `withdraw` or `erase` without `Authorization`, which is read as the controller's statement): the body is not a DSSE envelope (not JSON, empty, a missing or unknown field), the payload type is not the one the endpoint takes, there is not exactly one signature, the `keyid` is empty or not ASCII, or `payload` or `sig` is not base64"),
    BadBody = (400, "bad_body", "The request body could not be read"),
    InvalidQuery = (400, "invalid_query", "Unknown, repeated, missing or non-integer query parameter, a `limit` outside 1–1,000, both or neither of `index` and `leaf_hash`, a `sha256` that is not 64 hex digits, a `format` other than `json` or `tlog-proof`, a `controller` (`GET /v1/consents`) missing or not a UUID, or an undecodable query string"),
    BadBase64 = (400, "bad_base64", "`leaf_hash` is not standard base64"),
    BadHash = (400, "bad_hash", "`leaf_hash` does not decode to 32 bytes"),
    TreeSizeBeyondLog = (400, "tree_size_beyond_log", "`tree_size` (or `to`) is larger than the latest checkpoint"),
    IndexOutOfRange = (400, "index_out_of_range", "Inclusion proof for an index not below `tree_size`"),
    InvalidRange = (400, "invalid_range", "Consistency proof with `from` = 0 or `from` > `to`"),
    InvalidIndex = (400, "invalid_index", "`/v1/entries/{index}` or `/v1/receipts/{index}` with an index that is not a non-negative integer"),
    InvalidParticipantId = (400, "invalid_participant_id", "`/v1/participants/{id}` with an id that is not a UUID"),
    InvalidDatasetId = (400, "invalid_dataset_id", "`/v1/datasets/{dataset_id}` with an id that is not a UUID"),
    InvalidConsentId = (400, "invalid_consent_id", "`/v1/consents/{id}` (and its `accesses`, `withdraw`, `erase`) with an id that is not a UUID"),
    InvalidVersion = (400, "invalid_version", "`/v1/datasets/{dataset_id}/versions/{version}/...` with a version that is not a positive integer"),
    InvalidUploadId = (400, "invalid_upload_id", "`/v1/uploads/{id}` with an id that is not a UUID"),
    InvalidOffset = (400, "invalid_offset", "A `PATCH /v1/uploads/{id}` without an `Upload-Offset` header holding a non-negative integer"),
    InvalidHold = (400, "invalid_hold", "A legal hold request whose body is not `{\"hold\": true|false, \"reference\": \"...\"}` with a reference of 1 to 200 characters"),
    BadTilePath = (400, "bad_tile_path", "A tile path that is not canonical c2sp.org/tlog-tiles (bad level, index groups, or width outside 1–255)"),
    InvalidPath = (400, "invalid_path", "A path parameter could not be extracted (framework fallback)"),
    BadRequest = (400, "bad_request", "Any other client error raised by the framework (fallback)"),
    MalformedRequest = (400, "malformed_request", "Witness: the `add-checkpoint` body is not `old <size>`, proof lines, an empty line and a signed checkpoint"),
    OldSizeTooLarge = (400, "old_size_too_large", "Witness: the `old` size is larger than the checkpoint's size"),
    Unauthorized = (401, "unauthorized", "Missing, malformed or wrong `Authorization: Bearer` token; on `GET /v1/receipts/{index}` and `GET /v1/consents`, a token that is not a participant's. On `/v1/consents/{id}` and its `accesses`, `withdraw` and `erase`, one answer for a missing or wrong citizen secret, a participant token that may not read this consent (`withdraw` and `erase` take no participant token at all) and an id that is no consent (every 401 comes with `WWW-Authenticate: Bearer`)"),
    UnknownParticipant = (401, "unknown_participant", "The envelope's `keyid` is not the id of a registered participant, spelt exactly as registration returned it (lower-case, hyphenated UUID)"),
    BadSignature = (401, "bad_signature", "The signature does not verify with the key registered for the `keyid` (another key, a payload or payload type changed after signing, PAE bytes that differ from the sent payload, a signature that is not 64 bytes)"),
    ForbiddenRole = (403, "forbidden_role", "The signer lacks the role the statement needs (`depositor` for a deposit; `controller` for a consent, withdrawal or erasure; `accessor` for an access); `GET /v1/consents?controller=` by a participant that is neither that controller nor an auditor"),
    NotStatementSigner = (403, "not_statement_signer", "`POST /v1/uploads`: the deposit statement is signed by another participant than the token's"),
    QuotaExceeded = (403, "quota_exceeded", "`POST /v1/uploads`: the participant's archived bytes, its open uploads and this one would exceed its quota (`--archive-quota`)"),
    DownloadForbidden = (403, "download_forbidden", "A download by a participant that is not the depositor, without an access decision (`?access=`) of its own that permits `download` of this dataset, or whose permit no longer holds (a consent withdrawn, erased or expired since)"),
    NotDepositor = (403, "not_depositor", "Disposal of a dataset version by a participant that is not its depositor"),
    NotDatasetOwner = (403, "not_dataset_owner", "The deposit's `dataset_id` is another depositor's dataset"),
    UntrustedSignature = (403, "untrusted_signature", "Witness: the checkpoint has no valid signature by a key the witness trusts for its origin"),
    NotFound = (404, "not_found", "No such route"),
    EntryNotFound = (404, "entry_not_found", "Entry index beyond the log's size (`/v1/entries/{index}`, `/v1/receipts/{index}`)"),
    LeafNotFound = (404, "leaf_not_found", "No entry with this leaf hash in the requested tree"),
    TileNotFound = (404, "tile_not_found", "The tree does not (yet) have this tile or this width"),
    ParticipantNotFound = (404, "participant_not_found", "No participant with this id"),
    DatasetNotFound = (404, "dataset_not_found", "No dataset with this id (`GET /v1/datasets/{dataset_id}`, or a deposit's `dataset_id`)"),
    ConsentNotFound = (404, "consent_not_found", "A controller's withdrawal or erasure statement for an id that is no consent this controller recorded: no consent at all and another controller's consent get the same answer"),
    UploadNotFound = (404, "upload_not_found", "No open upload session with this id: never opened, expired (`--upload-idle`), abandoned, or finished"),
    ObjectNotFound = (404, "object_not_found", "The dataset version has no archived object (it was deposited without its bytes), or there is no such version"),
    FixityRunNotFound = (404, "fixity_run_not_found", "No fixity run at this entry, or no check of this object and location in it"),
    UnknownOrigin = (404, "unknown_origin", "Witness: the checkpoint's origin is not a log this witness follows"),
    MethodNotAllowed = (405, "method_not_allowed", "Known path, wrong method (with an `Allow` header; read routes answer `GET` and `HEAD`)"),
    RequestTimeout = (408, "request_timeout", "The request body did not arrive within `--request-timeout-ms` of its head; the connection is closed"),
    DuplicateKey = (409, "duplicate_key", "A participant with this public key is already registered"),
    Replayed = (409, "replayed", "This participant already used this nonce in a statement the log recorded (also when the two race each other)"),
    Conflict = (409, "conflict", "Another unique key of the entry is already taken. For a deposit: a concurrent deposit of the same content won and its entry is not yet written (`a concurrent deposit won; retry`), or 16 attempts in a row lost the next version number of the dataset to concurrent versions (`too many concurrent versions of this dataset; retry`). For an access: 8 decisions in a row were overtaken by a withdrawal or erasure of a cited consent (`the consents this access relies on keep changing; retry`); retry"),
    AlreadyWithdrawn = (409, "already_withdrawn", "`withdraw` of a consent already withdrawn (also when two withdrawals race)"),
    AlreadyErased = (409, "already_erased", "`withdraw` or `erase` of an erased consent (also when they race an erasure)"),
    ConsentNotGiven = (409, "consent_not_given", "`withdraw` of a refused consent: there is nothing to withdraw"),
    OffsetMismatch = (409, "offset_mismatch", "`PATCH /v1/uploads/{id}`: `Upload-Offset` is not the session's offset (ask `HEAD` where to resume)"),
    UploadBusy = (409, "upload_busy", "Another request is writing to this upload session"),
    AlreadyArchived = (409, "already_archived", "This dataset version already has an archived object: it is not stored twice"),
    RetentionActive = (409, "retention_active", "Disposal before the object's `retain_until`: the archive refuses, and so does its storage"),
    LegalHold = (409, "legal_hold", "Disposal of an object under a legal hold"),
    DuplicateContent = (409, "duplicate_content", "A deposit of content its depositor already deposited as a new dataset, with the same visibility, under another controller: deposit it as a new version of that dataset, or under the same controller"),
    RoleAlreadyHeld = (409, "role_already_held", "`POST /v1/participants/{id}/roles`: a role in `add` is one the participant already has; nothing was changed"),
    RoleNotHeld = (409, "role_not_held", "`POST /v1/participants/{id}/roles`: a role in `remove` is one the participant does not have; nothing was changed"),
    OldSizeConflict = (409, "old_size_conflict", "Witness: the `old` size is not the size it last cosigned for this log. This answer alone has no JSON body: c2sp.org/tlog-witness prescribes the body `<size>\\n` with `Content-Type: text/x.tlog.size`"),
    ObjectDisposed = (410, "object_disposed", "The dataset version's object was disposed of: every copy and its key are gone (its disposal entry is the certificate)"),
    RootMismatch = (409, "root_mismatch", "Witness: the checkpoint has the size the witness last cosigned but another root: a fork, kept as evidence"),
    PayloadTooLarge = (413, "payload_too_large", "Request body over 64 KiB"),
    EntryTooLarge = (413, "entry_too_large", "A log entry over 65,535 bytes (the entry-bundle limit). A public deposit's entry holds the whole envelope, so an envelope near the 64 KiB body limit can exceed it"),
    ObjectTooLarge = (413, "object_too_large", "`POST /v1/uploads`: the statement's size exceeds the archive's largest object (`--archive-max-object`)"),
    UploadTooLong = (413, "upload_too_long", "`PATCH /v1/uploads/{id}`: more bytes than the statement's size; nothing of the request was kept"),
    UnsupportedMediaType = (415, "unsupported_media_type", "A `Content-Type` other than `application/json` on a JSON endpoint"),
    RangeNotSatisfiable = (416, "range_not_satisfiable", "A `Range` header that is not one `bytes=` range within the object"),
    InvalidField = (422, "invalid_field", "The JSON does not fit the request: fields missing, unknown, of the wrong type or breaking their rules. `errors` lists every one at once with its path (`payload.<path>` for a statement's payload), and the message says them all"),
    InvalidPayload = (422, "invalid_payload", "The statement's payload is not JSON, or not a JSON object"),
    StaleStatement = (422, "stale_statement", "The statement's `issued_at` is more than 5 minutes from the server's clock"),
    IdentifierNotPseudonymous = (422, "identifier_not_pseudonymous", "A consent's `subject_ref` looks like an email address, a French NIR or a name: send the controller's own pseudonym"),
    EndlessConsent = (422, "endless_consent", "A consent's `validity` has neither `until` nor `duration`, or ends more than 100 years away"),
    UnknownRecipient = (422, "unknown_recipient", "A consent's `recipients` names a participant that is not registered with the `accessor` role (`errors` lists every unknown recipient, and every unknown or foreign dataset, at once)"),
    UnknownDataset = (422, "unknown_dataset", "A consent's `datasets` names a dataset that is not on the log"),
    DatasetNotControlled = (422, "dataset_not_controlled", "A consent's `datasets` names a dataset whose controller is another participant"),
    UnknownController = (422, "unknown_controller", "A deposit's `controller` is not a registered participant with the `controller` role"),
    ControllerMismatch = (422, "controller_mismatch", "A later version's `controller` is not the dataset's controller, fixed by its first version"),
    ConsentMismatch = (422, "consent_mismatch", "A controller's withdrawal or erasure statement names another `consent_id` than the path"),
    InvalidConsistencyProof = (422, "invalid_consistency_proof", "Witness: the consistency proof does not prove the checkpoint consistent with the one it last cosigned"),
    ContentMismatch = (422, "content_mismatch", "The uploaded bytes do not have the statement's SHA-256: nothing was logged and the upload's bytes are deleted"),
    RateLimited = (429, "rate_limited", "This client sent more than `--rate-limit` allows (with `Retry-After` in whole seconds, at least 1; the message says how many milliseconds to wait)"),
    Internal = (500, "internal", "The store is inconsistent (e.g. a private deposit without its off-log statement) or the tree arithmetic failed"),
    NotWitnessed = (503, "not_witnessed", "`GET /checkpoint` on a log with witnesses, before their quorum has cosigned any checkpoint (with `Retry-After: 1`)"),
    NotReady = (503, "not_ready", "`GET /readyz`: the sequencer has stopped, a commit failed and the store has not recovered yet (writes are refused, reads go on), or the store cannot be read (with `Retry-After: 1`)"),
    Overloaded = (503, "overloaded", "The sequencer's queue is full (with `Retry-After: 1`)"),
    Pending = (503, "pending", "`POST /v1/deposits`: an entry the answer depends on (the earlier deposit a duplicate answers with, or the first version of the named dataset) is written but not yet covered by a published checkpoint; retry shortly (with `Retry-After: 1`)"),
    StorageUnavailable = (503, "storage_unavailable", "The store cannot be read, the batch could not be committed, or the store has not yet recovered from an earlier failure, e.g. a full disk (with `Retry-After: 1`). On a write, the outcome is unknown: the entry may appear later, unacknowledged"),
    ArchiveUnavailable = (503, "archive_unavailable", "An archive location could not be written or read (with `Retry-After: 1`); nothing was logged for the object"),
    Unavailable = (503, "unavailable", "The sequencer has stopped or the server is shutting down (with `Retry-After: 1`)"),
    ClockUnset = (503, "clock_unset", "Witness: the witness's clock is not set, so it cannot timestamp a cosignature; nothing was cosigned (with `Retry-After: 1`)"),
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered to a client: a [`Code`] (which fixes the status), a message saying
/// what, in this request, went wrong, and, when it is about the request's fields, every
/// broken field with what is wrong with it (the body's `errors`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    code: Code,
    message: String,
    problems: Vec<InvalidField>,
    retry_after: Option<u64>,
}

impl Error {
    /// An error with this code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            problems: Vec::new(),
            retry_after: None,
        }
    }

    /// 422 `invalid_field` about the request as a whole (no one field to name).
    pub fn invalid_field(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidField, message)
    }

    /// 422 `invalid_field` listing every broken field: the message says them all (`field:
    /// reason`, separated by `; `), and [`Error::problems`] has each apart.
    pub fn invalid_fields(problems: impl IntoIterator<Item = InvalidField>) -> Self {
        Self::with_problems(Code::InvalidField, problems)
    }

    /// An error of `code` about these fields (one or more), the message saying them all.
    pub fn with_problems(code: Code, problems: impl IntoIterator<Item = InvalidField>) -> Self {
        let problems: Vec<InvalidField> = problems.into_iter().collect();
        let message = match problems.len() {
            0 => "the request does not fit".to_owned(),
            1 => problems[0].to_string(),
            n => {
                let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
                format!("{n} problems: {}", all.join("; "))
            }
        };
        Self {
            code,
            message,
            problems,
            retry_after: None,
        }
    }

    /// Adds the field this error is about (an error of another code than `invalid_field`
    /// that still concerns one field, such as `controller_mismatch`); the message, less a
    /// leading `<field>: `, says what is wrong with it.
    pub fn about(mut self, field: &str) -> Self {
        let reason = self
            .message
            .strip_prefix(field)
            .and_then(|r| r.strip_prefix(": "))
            .unwrap_or(&self.message)
            .to_owned();
        self.problems.push(crate::field::invalid(field, reason));
        self
    }

    /// Every broken field of the request, in the order found; empty when the error is not
    /// about the request's fields.
    pub fn problems(&self) -> &[InvalidField] {
        &self.problems
    }

    /// A 500: the store holds something its own invariants forbid.
    pub fn corrupt(message: impl Into<String>) -> Self {
        StoreError::Corrupt(message.into()).into()
    }

    /// Sets `Retry-After` (seconds) on a 429 or 503.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `Retry-After` seconds, when set.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    /// True for a 500: the store holds something its invariants forbid (not a failed read,
    /// which is a 503). A listing reports such an entry apart and goes on.
    pub fn is_internal(&self) -> bool {
        self.code.status() == 500
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store read failed");
        match e {
            StoreError::Backend { .. } => Self::new(
                Code::StorageUnavailable,
                "the store cannot be read right now",
            ),
            StoreError::Corrupt(_) | StoreError::Format(_) | StoreError::Conflict(_) => Self::new(
                Code::Internal,
                "the store is inconsistent; the operator has been told",
            ),
        }
    }
}

impl From<TreeError> for Error {
    fn from(e: TreeError) -> Self {
        match e {
            TreeError::Store(s) => s.into(),
            TreeError::OutOfRange(m) => Self::new(Code::InvalidRange, m),
            TreeError::Tlog(m) => {
                tracing::error!(error = %m, "tree arithmetic failed");
                Self::new(Code::Internal, "internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{s} is not snake_case"
            );
            assert!((400..600).contains(&code.status()), "{s}");
            assert!(!code.when().is_empty(), "{s} is undocumented");
        }
    }

    #[test]
    fn a_store_failure_is_a_503_and_corruption_a_500() {
        let e: Error = StoreError::Backend {
            action: "reading",
            detail: "disk".into(),
        }
        .into();
        assert_eq!(e.code(), Code::StorageUnavailable);
        assert_eq!(e.status(), 503);
        assert!(Error::corrupt("x").is_internal());
    }
}
