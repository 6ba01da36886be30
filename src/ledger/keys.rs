//! The layouts of the ledger's secondary indexes: every key the ledger writes to the log's
//! indexes is built here, and every key it reads back is decoded here. To the engine an index
//! is a tag and a key is opaque bytes; their meaning lives in this module only.
//!
//! One-to-many indexes ("listed") get the entry's leaf index appended by the sequencer
//! (8 bytes, big-endian): their keys here are prefixes.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::log::{Index, IndexKey};
use crate::statement::deposit::Visibility;

/// Participant id (16 bytes) → the participant's registration.
pub const PARTICIPANT_ID: Index = Index::user(2);
/// Participant Ed25519 public key (32) → the participant's registration (unique).
pub const PARTICIPANT_KEY: Index = Index::user(3);
/// SHA-256 of a participant API token (32) → the entry that issued it: the participant's
/// registration or a `participant_token` change. A token is valid while that entry is the
/// latest to have issued one for its participant; a revoked token's key stays, pointing at an
/// entry that no longer is.
pub const API_TOKEN: Index = Index::user(4);
/// Participant id (16) ‖ statement nonce → the statement's entry (replay protection).
pub const NONCE: Index = Index::user(5);
/// The end of a nonce's freshness window (8, big-endian Unix seconds) ‖ participant id (16) ‖
/// nonce → the statement's entry: which [`NONCE`] keys may go, and when.
pub const NONCE_EXPIRY: Index = Index::user(17);
/// Dataset id (16) ‖ version (8, big-endian) → that version's entry.
pub const DATASET_VERSION: Index = Index::user(6);
/// Content SHA-256 (32) ‖ leaf index (8) → a deposit of that content (listed).
pub const DEPOSIT_CONTENT: Index = Index::user(7);
/// Depositor (16) ‖ dataset id (16) ‖ content SHA-256 (32) ‖ visibility (1) → the deposit of
/// that content to that dataset (duplicates).
pub const DATASET_CONTENT: Index = Index::user(8);
/// Depositor (16) ‖ content SHA-256 (32) ‖ visibility (1) → the first version of a dataset
/// created with that content (duplicates of new-dataset deposits).
pub const NEW_DATASET_CONTENT: Index = Index::user(9);
/// Record id (16: a consent, consent event or access id) → its entry.
pub const RECORD_ID: Index = Index::user(10);
/// Consent id (16) ‖ leaf index (8) → an event of that consent (listed).
pub const CONSENT_EVENT: Index = Index::user(11);
/// Consent id (16) ‖ SHA-256 of its citizen secret (32) → the consent's entry.
pub const CONSENT_SECRET: Index = Index::user(12);
/// Consent id (16) → its withdrawal (at most one).
pub const CONSENT_WITHDRAWN: Index = Index::user(13);
/// Consent id (16) → its erasure (at most one).
pub const CONSENT_ERASED: Index = Index::user(14);
/// Consent id (16) ‖ leaf index (8) → an access decision that cited the consent (listed).
pub const CONSENT_ACCESS: Index = Index::user(15);
/// Controller id (16) ‖ leaf index (8) → a consent that controller recorded (listed).
pub const CONTROLLER_CONSENT: Index = Index::user(16);

/// Dataset id (16) ‖ version (8) → the `storage` entry of that version's archived object
/// (unique: one object per version).
pub const ARCHIVED_VERSION: Index = Index::user(18);
/// Object id (16) → its `storage` entry (unique).
pub const OBJECT_STORAGE: Index = Index::user(19);
/// Object id (16) → its `disposal` entry (unique: disposed of once).
pub const OBJECT_DISPOSAL: Index = Index::user(20);
/// Object id (16) → its latest `legal_hold` entry.
pub const OBJECT_HOLD: Index = Index::user(21);
/// Dataset id (16) ‖ leaf index (8) → a custody entry of one of its versions (listed).
pub const DATASET_CUSTODY: Index = Index::user(22);
/// Leaf index (8) → a `storage` entry (listed, empty prefix): every object ever archived, in
/// log order, for the scrubber and start-up.
pub const ARCHIVE_OBJECTS: Index = Index::user(23);
/// Leaf index (8) → a `fixity` entry (listed, empty prefix): the scrubber's runs.
pub const FIXITY_RUNS: Index = Index::user(24);
/// Consent id (16) ‖ leaf index (8) → a `download` under an access that cited the consent
/// (listed): what the citizen sees on their consent's page.
pub const CONSENT_DOWNLOAD: Index = Index::user(25);
/// Object id (16) → its latest unrepaired `fixity_failure` entry; a `repair` points it at
/// itself (so a failure is open when this key names a `fixity_failure`).
pub const OBJECT_FAILURE: Index = Index::user(26);
/// Participant id (16) ‖ change number (8, big-endian) → that change of the participant
/// (`participant_roles`, `participant_token`; unique: two changes racing from the same state
/// cannot both be written).
pub const PARTICIPANT_CHANGE: Index = Index::user(27);

/// The unique keys whose refusal the ledger answers with its own error, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// A participant with this key exists.
    ParticipantKey,
    /// The signer already used this nonce.
    Nonce,
    /// The version number was taken by a concurrent deposit.
    DatasetVersion,
    /// The content was deposited concurrently.
    DuplicateContent,
    /// The consent was withdrawn.
    Withdrawn,
    /// The consent was erased.
    Erased,
    /// The dataset version already has an archived object.
    Archived,
    /// The object was already disposed of.
    Disposed,
    /// A concurrent change of the participant took the change number.
    ParticipantChange,
    /// Any other unique key (a random id that collided).
    Other,
}

impl Taken {
    /// What a refused unique key of `index` means.
    pub fn of(index: Index) -> Self {
        match index {
            PARTICIPANT_KEY => Taken::ParticipantKey,
            NONCE => Taken::Nonce,
            DATASET_VERSION => Taken::DatasetVersion,
            DATASET_CONTENT | NEW_DATASET_CONTENT => Taken::DuplicateContent,
            CONSENT_WITHDRAWN => Taken::Withdrawn,
            CONSENT_ERASED => Taken::Erased,
            ARCHIVED_VERSION => Taken::Archived,
            OBJECT_DISPOSAL => Taken::Disposed,
            PARTICIPANT_CHANGE => Taken::ParticipantChange,
            _ => Taken::Other,
        }
    }
}

/// The archived object of version `version` of dataset `dataset`.
pub fn archived_version(dataset: Uuid, version: u64) -> IndexKey {
    IndexKey::new(
        ARCHIVED_VERSION,
        [dataset.as_bytes().as_slice(), &version.to_be_bytes()].concat(),
    )
}

/// An object's `storage` entry.
pub fn object_storage(object: Uuid) -> IndexKey {
    IndexKey::new(OBJECT_STORAGE, object.as_bytes().to_vec())
}

/// An object's `disposal` entry.
pub fn object_disposal(object: Uuid) -> IndexKey {
    IndexKey::new(OBJECT_DISPOSAL, object.as_bytes().to_vec())
}

/// An object's latest `legal_hold` entry.
pub fn object_hold(object: Uuid) -> IndexKey {
    IndexKey::new(OBJECT_HOLD, object.as_bytes().to_vec())
}

/// An object's latest failure or repair.
pub fn object_failure(object: Uuid) -> IndexKey {
    IndexKey::new(OBJECT_FAILURE, object.as_bytes().to_vec())
}

/// The custody entries of a dataset's versions (listed).
pub fn dataset_custody(dataset: Uuid) -> IndexKey {
    IndexKey::new(DATASET_CUSTODY, dataset.as_bytes().to_vec())
}

/// Every `storage` entry (listed).
pub fn archive_objects() -> IndexKey {
    IndexKey::new(ARCHIVE_OBJECTS, Vec::new())
}

/// Every `fixity` entry (listed).
pub fn fixity_runs() -> IndexKey {
    IndexKey::new(FIXITY_RUNS, Vec::new())
}

/// The downloads under accesses that cited a consent (listed).
pub fn consent_downloads(consent: Uuid) -> IndexKey {
    IndexKey::new(CONSENT_DOWNLOAD, consent.as_bytes().to_vec())
}

/// A participant's registration by id.
pub fn participant_id(id: Uuid) -> IndexKey {
    IndexKey::new(PARTICIPANT_ID, id.as_bytes().to_vec())
}

/// Change number `seq` of participant `id`.
pub fn participant_change(id: Uuid, seq: u64) -> IndexKey {
    IndexKey::new(
        PARTICIPANT_CHANGE,
        [id.as_bytes().as_slice(), &seq.to_be_bytes()].concat(),
    )
}

/// A participant's registration by public key.
pub fn participant_key(public_key: &[u8; 32]) -> IndexKey {
    IndexKey::new(PARTICIPANT_KEY, public_key.to_vec())
}

/// A participant's registration by the hash of its API token.
pub fn api_token(token: &str) -> IndexKey {
    IndexKey::new(API_TOKEN, Sha256::digest(token.as_bytes()).to_vec())
}

/// When the (signer, nonce) pair of a statement issued at `issued_at` may be forgotten: once
/// the statement is stale (its freshness window is over), a replay is refused as stale.
pub fn nonce_expiry(expires: u64, signer: Uuid, nonce: &str) -> IndexKey {
    IndexKey::new(
        NONCE_EXPIRY,
        [
            &expires.to_be_bytes()[..],
            signer.as_bytes(),
            nonce.as_bytes(),
        ]
        .concat(),
    )
}

/// The end of the window and the [`NONCE`] key of a [`NONCE_EXPIRY`] key.
pub fn expired_nonce(key: &[u8]) -> Option<(u64, IndexKey)> {
    let expires = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let rest = key.get(8..)?;
    (rest.len() >= 16).then(|| (expires, IndexKey::new(NONCE, rest.to_vec())))
}

/// A (signer, nonce) pair, taken by the statement's entry.
pub fn nonce(signer: Uuid, nonce: &str) -> IndexKey {
    IndexKey::new(NONCE, [signer.as_bytes(), nonce.as_bytes()].concat())
}

/// Version `version` of dataset `dataset`.
pub fn dataset_version(dataset: Uuid, version: u64) -> IndexKey {
    IndexKey::new(
        DATASET_VERSION,
        [dataset.as_bytes().as_slice(), &version.to_be_bytes()].concat(),
    )
}

/// The prefix of every version of dataset `dataset`.
pub fn dataset_versions(dataset: Uuid) -> IndexKey {
    IndexKey::new(DATASET_VERSION, dataset.as_bytes().to_vec())
}

/// The version number a [`DATASET_VERSION`] key names.
pub fn version_of(key: &[u8]) -> Option<u64> {
    let v: [u8; 8] = key.get(16..24)?.try_into().ok()?;
    Some(u64::from_be_bytes(v))
}

/// The listed key of every deposit of content `sha256`, and the prefix a search scans.
pub fn deposit_content(sha256: &[u8; 32]) -> IndexKey {
    IndexKey::new(DEPOSIT_CONTENT, sha256.to_vec())
}

fn visibility_byte(visibility: Visibility) -> u8 {
    match visibility {
        Visibility::Public => b'p',
        Visibility::Private => b's',
    }
}

/// A depositor's deposit of content `sha256` with `visibility` to dataset `dataset`.
pub fn dataset_content(
    depositor: Uuid,
    dataset: Uuid,
    sha256: &[u8; 32],
    visibility: Visibility,
) -> IndexKey {
    IndexKey::new(
        DATASET_CONTENT,
        [
            depositor.as_bytes().as_slice(),
            dataset.as_bytes(),
            sha256,
            &[visibility_byte(visibility)],
        ]
        .concat(),
    )
}

/// A depositor's new dataset created with content `sha256` and `visibility`.
pub fn new_dataset_content(depositor: Uuid, sha256: &[u8; 32], visibility: Visibility) -> IndexKey {
    IndexKey::new(
        NEW_DATASET_CONTENT,
        [
            depositor.as_bytes().as_slice(),
            sha256,
            &[visibility_byte(visibility)],
        ]
        .concat(),
    )
}

/// A consent, consent event or access record by id.
pub fn record_id(id: Uuid) -> IndexKey {
    IndexKey::new(RECORD_ID, id.as_bytes().to_vec())
}

/// The listed key of a consent's events, and the prefix that lists them.
pub fn consent_events(consent: Uuid) -> IndexKey {
    IndexKey::new(CONSENT_EVENT, consent.as_bytes().to_vec())
}

/// A consent's citizen secret, kept as its hash.
pub fn consent_secret(consent: Uuid, secret: &str) -> IndexKey {
    IndexKey::new(
        CONSENT_SECRET,
        [
            consent.as_bytes().as_slice(),
            &Sha256::digest(secret.as_bytes()),
        ]
        .concat(),
    )
}

/// A consent's withdrawal (at most one).
pub fn consent_withdrawn(consent: Uuid) -> IndexKey {
    IndexKey::new(CONSENT_WITHDRAWN, consent.as_bytes().to_vec())
}

/// A consent's erasure (at most one).
pub fn consent_erased(consent: Uuid) -> IndexKey {
    IndexKey::new(CONSENT_ERASED, consent.as_bytes().to_vec())
}

/// The listed key of the access decisions citing a consent, and the prefix that lists them.
pub fn consent_accesses(consent: Uuid) -> IndexKey {
    IndexKey::new(CONSENT_ACCESS, consent.as_bytes().to_vec())
}

/// The listed key of a controller's consents, and the prefix that lists them.
pub fn controller_consents(controller: Uuid) -> IndexKey {
    IndexKey::new(CONTROLLER_CONSENT, controller.as_bytes().to_vec())
}

/// The one key of controller `controller`'s consent at leaf `index`.
pub fn controller_consent_at(controller: Uuid, index: u64) -> IndexKey {
    IndexKey::new(
        CONTROLLER_CONSENT,
        [controller.as_bytes().as_slice(), &index.to_be_bytes()].concat(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_distinct_and_leave_the_engine_its_own() {
        let all = [
            PARTICIPANT_ID,
            PARTICIPANT_KEY,
            API_TOKEN,
            NONCE,
            DATASET_VERSION,
            DEPOSIT_CONTENT,
            DATASET_CONTENT,
            NEW_DATASET_CONTENT,
            RECORD_ID,
            CONSENT_EVENT,
            CONSENT_SECRET,
            CONSENT_WITHDRAWN,
            CONSENT_ERASED,
            CONSENT_ACCESS,
            CONTROLLER_CONSENT,
        ];
        let tags: std::collections::HashSet<u8> = all.iter().map(|i| i.tag()).collect();
        assert_eq!(tags.len(), all.len());
        assert!(!tags.contains(&Index::LEAF_HASH.tag()));
    }

    #[test]
    fn a_version_key_decodes_to_its_version() {
        let d = Uuid::from_bytes([9; 16]);
        assert_eq!(version_of(&dataset_version(d, 42).key), Some(42));
        assert_eq!(version_of(&d.as_bytes()[..]), None);
        assert!(dataset_version(d, 1)
            .key
            .starts_with(&dataset_versions(d).key));
    }

    #[test]
    fn the_layouts_are_the_stored_ones() {
        // The bytes existing stores hold: changing a layout is a store format change.
        let id = Uuid::from_bytes([1; 16]);
        let sha = [2u8; 32];
        assert_eq!(
            dataset_content(id, id, &sha, Visibility::Private).key,
            [&[1u8; 16][..], &[1; 16], &[2; 32], b"s"].concat()
        );
        assert_eq!(
            new_dataset_content(id, &sha, Visibility::Public).key,
            [&[1u8; 16][..], &[2; 32], b"p"].concat()
        );
        assert_eq!(nonce(id, "abc").key, [&[1u8; 16][..], b"abc"].concat());
        let expiry = nonce_expiry(1_700_000_000, id, "abc");
        assert_eq!(expiry.index, NONCE_EXPIRY);
        assert_eq!(
            expired_nonce(&expiry.key),
            Some((1_700_000_000, nonce(id, "abc")))
        );
        assert_eq!(expired_nonce(&expiry.key[..20]), None);
        assert_eq!(
            controller_consent_at(id, 7).key,
            [&[1u8; 16][..], &7u64.to_be_bytes()].concat()
        );
    }
}
