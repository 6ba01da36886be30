//! The engine's hot paths, one at a time: integrating a batch into the tree (the sequencer's
//! step between admission and commit), inclusion and consistency proofs, checkpoint signing,
//! and the per-request signature work (DSSE verification, single and batched Ed25519); and
//! the private records on the sled store: sealing one, committing a batch of them, erasing
//! one (which rotates its bucket's key-encryption key); and the strict JSON reading of a
//! statement's payload (src/json.rs) against serde_json alone.
//!
//! ```text
//! cargo bench --bench engine
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use datapole::log::tree::{self, StoreReader};
use datapole::log::{Batch, Hash, LogSigner, MemoryStore, Store};
use datapole::statement::dsse::Envelope;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

/// A tree of `size` leaves in memory, built through the engine's own integration.
fn tree(size: u64) -> (MemoryStore, LogSigner) {
    let (skey, _) = LogSigner::generate("bench.example/log").expect("key");
    let signer = LogSigner::from_skey(&skey, None).expect("signer");
    let store = MemoryStore::new();
    let mut n = 0;
    while n < size {
        let k = 4096.min(size - n);
        let entries: Vec<Vec<u8>> = (n..n + k).map(|i| i.to_le_bytes().to_vec()).collect();
        let hashes: Vec<Hash> = entries.iter().map(|e| tlog_tiles::record_hash(e)).collect();
        let int = tree::integrate(n, &hashes, &StoreReader::new(&store)).expect("integrate");
        let checkpoint = signer.sign(int.new_size, int.root).expect("sign");
        store
            .commit(&Batch {
                first_index: n,
                entries,
                first_hash_index: int.first_hash_index,
                hashes: int.hashes,
                index_keys: vec![],
                sidecars: vec![],
                erased_sidecars: vec![],
                removed_keys: Vec::new(),
                checkpoint,
            })
            .expect("commit");
        n += k;
    }
    (store, signer)
}

fn integrate(c: &mut Criterion) {
    let (store, signer) = tree(1 << 20);
    let size = 1u64 << 20;
    let mut g = c.benchmark_group("integrate");
    for batch in [1usize, 64, 1024, 4096] {
        let leaves: Vec<Hash> = (0..batch as u64)
            .map(|i| tlog_tiles::record_hash(&(size + i).to_le_bytes()))
            .collect();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(
            BenchmarkId::new("batch_on_1M", batch),
            &leaves,
            |b, leaves| {
                b.iter(|| tree::integrate(size, black_box(leaves), &StoreReader::new(&store)))
            },
        );
    }
    g.finish();
    c.bench_function("checkpoint/sign", |b| {
        b.iter(|| signer.sign(black_box(size), Hash([7; 32])))
    });
}

fn proofs(c: &mut Criterion) {
    let size = 1u64 << 20;
    let (store, _) = tree(size);
    let reader = StoreReader::new(&store);
    let mut i = 0u64;
    c.bench_function("proof/inclusion_1M", |b| {
        b.iter(|| {
            i = (i + 7919) % size;
            tree::inclusion_proof(black_box(i), size, &reader)
        })
    });
    let mut from = 1u64;
    c.bench_function("proof/consistency_1M", |b| {
        b.iter(|| {
            from = (from + 104_729) % (size - 1) + 1;
            tree::consistency_proof(black_box(from), size, &reader)
        })
    });
}

fn signatures(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[9; 32]);
    let payload = br#"{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,"media_type":"text/csv","title":"t","visibility":"public","issued_at":"2026-11-28T10:00:00Z","nonce":"abcdefghijklmnop"}"#;
    let env = Envelope::sign(
        "application/vnd.datapole.deposit.v1+json",
        payload,
        "0190b3a4-7c2e-7d1a-9e3b-2f5c8a1d4e6f",
        &key,
    );
    let vk = key.verifying_key();
    c.bench_function("dsse/verify", |b| b.iter(|| black_box(&env).verify(&vk)));
    let msg = datapole::statement::dsse::pae(&env.payload_type, payload);
    let sig = key.sign(&msg);
    c.bench_function("ed25519/verify_strict", |b| {
        b.iter(|| vk.verify_strict(black_box(&msg), &sig))
    });
    let mut g = c.benchmark_group("ed25519");
    for n in [16usize, 64, 256] {
        let keys: Vec<SigningKey> = (0..n)
            .map(|i| SigningKey::from_bytes(&[i as u8; 32]))
            .collect();
        let msgs: Vec<Vec<u8>> = (0..n).map(|i| [&msg[..], &[i as u8]].concat()).collect();
        let sigs: Vec<_> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        let vks: Vec<VerifyingKey> = keys.iter().map(|k| k.verifying_key()).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("verify_batch", n), &n, |b, _| {
            b.iter(|| ed25519_dalek::verify_batch(black_box(&refs), &sigs, &vks))
        });
    }
    g.finish();
    c.bench_function("leaf/record_hash_300B", |b| {
        let leaf = [0x42u8; 300];
        b.iter(|| tlog_tiles::record_hash(black_box(&leaf)))
    });
}

/// Batches for a sled store, with stand-in hashes: the store does not check them.
struct Batches {
    signer: LogSigner,
    n: u64,
}

impl Batches {
    fn next(&mut self, size: u64, record: Option<&[u8]>, erased: Vec<u64>) -> Batch {
        let first_index = self.n;
        self.n += size;
        let first_hash_index = tlog_tiles::stored_hash_count(first_index);
        let hash = |i: u64| tlog_tiles::record_hash(&i.to_le_bytes());
        Batch {
            first_index,
            entries: (first_index..self.n)
                .map(|i| vec![7; 64 + (i % 8) as usize])
                .collect(),
            first_hash_index,
            hashes: (first_hash_index..tlog_tiles::stored_hash_count(self.n))
                .map(hash)
                .collect(),
            index_keys: vec![],
            sidecars: record
                .map(|r| (first_index..self.n).map(|i| (i, r.to_vec())).collect())
                .unwrap_or_default(),
            erased_sidecars: erased,
            removed_keys: Vec::new(),
            checkpoint: self.signer.sign(self.n, hash(self.n)).expect("sign"),
        }
    }
}

/// Private records on sled (docs/design/crypto-shredding.md), each iteration durable (a flush):
/// sealing one record; a batch of 1,024 entries without and with a sealed 1.5 KB record each;
/// one entry alone and with the erasure of a record of a bucket of 4,096 live records (two
/// key-file rewrites, the re-wrap of the bucket's other data keys).
fn private_records(c: &mut Criterion) {
    use datapole::log::shred;
    use datapole::log::tiled::Options;
    use datapole::log::DiskStore;
    let record = vec![b'r'; 1500];
    let mut g = c.benchmark_group("private_records");
    g.bench_function("seal_and_wrap_1500B", |b| {
        let kek = shred::random_key().expect("key");
        b.iter(|| {
            let (sealed, key) = shred::seal_record(7, black_box(&record)).expect("seal");
            (sealed, shred::wrap(7, &key, 0, &kek).expect("wrap"))
        })
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let store = DiskStore::open_dir(dir.path(), &Options::default()).expect("store");
    let (skey, _) = LogSigner::generate("bench.example/log").expect("key");
    let mut batches = Batches {
        signer: LogSigner::from_skey(&skey, None).expect("signer"),
        n: 0,
    };
    // Two full buckets of live records to erase from.
    for _ in 0..2 {
        let batch = batches.next(shred::BUCKET_LEAVES, Some(&record), vec![]);
        store.commit(&batch).expect("commit");
    }
    g.sample_size(20);
    g.throughput(Throughput::Elements(1024));
    g.bench_function("commit_1024/public", |b| {
        b.iter(|| {
            store
                .commit(&batches.next(1024, None, vec![]))
                .expect("commit")
        })
    });
    g.bench_function("commit_1024/sealed_1500B", |b| {
        b.iter(|| {
            store
                .commit(&batches.next(1024, Some(&record), vec![]))
                .expect("commit")
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("commit_1/alone", |b| {
        b.iter(|| {
            store
                .commit(&batches.next(1, None, vec![]))
                .expect("commit")
        })
    });
    let mut next = 0u64;
    g.bench_function("commit_1/erasing_in_full_bucket", |b| {
        b.iter(|| {
            // Leaves of the two full buckets in turn: each bucket keeps about 4,000 live keys.
            let leaf = (next % 2) * shred::BUCKET_LEAVES + next / 2 % shred::BUCKET_LEAVES;
            next += 1;
            store
                .commit(&batches.next(1, None, vec![leaf]))
                .expect("commit")
        })
    });
    g.finish();
}

/// A deposit payload as a depositor sends one: every field, a description and some metadata.
const DEPOSIT_PAYLOAD: &[u8] = br#"{"sha256":"a60eea817514531668d7e00765731449fe14d059d3249e0bc93b36de45f759f2","size":10847,"media_type":"text/csv; charset=utf-8","title":"Occitanie air quality, hourly, 2026","description":"Hourly NO2, O3 and PM2.5 readings from 42 stations, validated by the regional network.","license":"CC-BY-4.0","visibility":"public","retention":"P10Y","dataset_id":"01a2235a-9979-7583-becd-57578a5176b6","metadata":{"stations":42,"pollutants":["NO2","O3","PM2.5"],"period":{"from":"2026-01-01","to":"2026-12-31"},"producer":{"name":"Atmo","contact":"data@atmo.example"},"rows":368000},"issued_at":"2026-11-28T18:11:09.816838467+00:00","nonce":"aQMD5EWcWhuhSNVeHjuvfw"}"#;

fn json(c: &mut Criterion) {
    use datapole::statement::deposit::DepositPayload;
    let mut g = c.benchmark_group("json/deposit_payload");
    g.throughput(Throughput::Bytes(DEPOSIT_PAYLOAD.len() as u64));
    g.bench_function("serde_json", |b| {
        b.iter(|| serde_json::from_slice::<DepositPayload>(black_box(DEPOSIT_PAYLOAD)))
    });
    // What the API did before the strict reader: a generic value, then the type.
    g.bench_function("value_then_typed", |b| {
        b.iter(|| {
            let v: serde_json::Value =
                serde_json::from_slice(black_box(DEPOSIT_PAYLOAD)).expect("json");
            serde_path_to_error::deserialize::<_, DepositPayload>(v)
        })
    });
    g.bench_function("strict", |b| {
        b.iter(|| datapole::json::from_slice::<DepositPayload>(black_box(DEPOSIT_PAYLOAD)))
    });
    g.finish();
}

/// What the `fsync` of sled's files adds to its `flush()` (src/log/durable.rs): one small
/// write made durable, by sled's flush alone (which survives a killed process, not a power
/// cut) and by the flush then the `fsync`s the store now does before a batch is acknowledged.
fn durability(c: &mut Criterion) {
    use datapole::log::durable::SledFiles;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sled::open(dir.path()).expect("sled");
    let mut files = SledFiles::open(dir.path()).expect("sled files");
    let value = vec![b'v'; 300];
    let mut n = 0u64;
    let mut g = c.benchmark_group("durability");
    g.sample_size(50);
    g.bench_function("sled_flush", |b| {
        b.iter(|| {
            n += 1;
            db.insert(n.to_be_bytes(), value.as_slice())
                .expect("insert");
            db.flush().expect("flush")
        })
    });
    g.bench_function("sled_flush_then_fsync", |b| {
        b.iter(|| {
            n += 1;
            db.insert(n.to_be_bytes(), value.as_slice())
                .expect("insert");
            db.flush().expect("flush");
            files.sync().expect("fsync")
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    json,
    integrate,
    proofs,
    signatures,
    private_records,
    durability
);
criterion_main!(benches);
