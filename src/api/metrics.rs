//! Observability: `GET /metrics` (Prometheus text format), `GET /healthz` (the process
//! answers) and `GET /readyz` (the store reads, the sequencer runs and takes writes).
//!
//! Requests are counted by route pattern (not by raw path, so that the label set stays
//! bounded), method and status, with a latency histogram per route; the sequencer reports
//! each batch through [`BatchObserver`]: its size, integration-and-signing time, commit
//! (apply and flush) time, and refusals; the queue depth and log size are read when scraped.

use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{web, HttpResponse};
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::AppState;
use crate::error::{Code, Error};
use crate::log::sequencer::BatchObserver;

/// Latency buckets, in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Batch-size buckets, in entries.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    batch_entries: Histogram,
    batch_integrate: Histogram,
    batch_commit: Histogram,
    batch_flush: Histogram,
    batch_failures: IntCounter,
    refused: IntCounter,
    queue_depth: IntGauge,
    log_size: IntGauge,
    degraded: IntGauge,
    witness_cosignatures: IntGaugeVec,
    witness_failures: IntGaugeVec,
    witness_latency: GaugeVec,
    witness_size: IntGaugeVec,
    cosigned_size: IntGauge,
}

fn histogram(name: &str, help: &str, buckets: &[f64]) -> Histogram {
    // Names and buckets are constants: construction cannot fail.
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .unwrap_or_else(|e| unreachable!("histogram {name}: {e}"))
}

impl Metrics {
    /// A fresh set of metrics, registered.
    pub fn new() -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "datapole_http_requests_total",
                "HTTP requests answered, by route pattern, method and status",
            ),
            &["route", "method", "status"],
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "datapole_http_request_duration_seconds",
                "Time from request to response, by route pattern",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let m = Self {
            registry: Registry::new(),
            requests,
            latency,
            batch_entries: histogram(
                "datapole_sequencer_batch_entries",
                "Entries per committed batch",
                BATCH_BUCKETS,
            ),
            batch_integrate: histogram(
                "datapole_sequencer_integrate_seconds",
                "Time to integrate a batch into the tree and sign its checkpoint",
                LATENCY_BUCKETS,
            ),
            batch_commit: histogram(
                "datapole_sequencer_commit_seconds",
                "Time for the store to commit a batch durably (apply and flush)",
                LATENCY_BUCKETS,
            ),
            batch_flush: histogram(
                "datapole_sequencer_flush_seconds",
                "Time the store spent making a batch durable (sled flush), part of the commit",
                LATENCY_BUCKETS,
            ),
            batch_failures: IntCounter::new(
                "datapole_sequencer_batch_failures_total",
                "Batches the store could not commit",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            refused: IntCounter::new(
                "datapole_sequencer_refused_total",
                "Appends refused at sequencing (a unique key taken, a precondition failed)",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            queue_depth: IntGauge::new(
                "datapole_sequencer_queue_depth",
                "Appends waiting for the sequencer",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            log_size: IntGauge::new(
                "datapole_log_size",
                "Entries in the latest published checkpoint",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            degraded: IntGauge::new(
                "datapole_sequencer_degraded",
                "1 while writes are refused until the store recovers from a failed commit",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            witness_cosignatures: IntGaugeVec::new(
                Opts::new(
                    "datapole_witness_cosignatures",
                    "Cosignatures obtained from each witness since the log started",
                ),
                &["witness"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            witness_failures: IntGaugeVec::new(
                Opts::new(
                    "datapole_witness_failures",
                    "Failed submissions to each witness since the log started",
                ),
                &["witness"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            witness_latency: GaugeVec::new(
                Opts::new(
                    "datapole_witness_last_latency_seconds",
                    "Duration of the last successful submission to each witness",
                ),
                &["witness"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            witness_size: IntGaugeVec::new(
                Opts::new(
                    "datapole_witness_size",
                    "The tree size each witness last cosigned, as far as the log knows",
                ),
                &["witness"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
            cosigned_size: IntGauge::new(
                "datapole_cosigned_size",
                "Entries in the latest checkpoint the witnesses' quorum cosigned",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.requests.clone()),
            Box::new(m.latency.clone()),
            Box::new(m.batch_entries.clone()),
            Box::new(m.batch_integrate.clone()),
            Box::new(m.batch_commit.clone()),
            Box::new(m.batch_flush.clone()),
            Box::new(m.batch_failures.clone()),
            Box::new(m.refused.clone()),
            Box::new(m.queue_depth.clone()),
            Box::new(m.log_size.clone()),
            Box::new(m.degraded.clone()),
            Box::new(m.witness_cosignatures.clone()),
            Box::new(m.witness_failures.clone()),
            Box::new(m.witness_latency.clone()),
            Box::new(m.witness_size.clone()),
            Box::new(m.cosigned_size.clone()),
        ];
        for c in collectors {
            // Distinct names, registered once: cannot fail.
            let _ = m.registry.register(c);
        }
        m
    }

    /// Counts one answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchObserver for Metrics {
    fn committed(
        &self,
        entries: usize,
        size: u64,
        integrate: Duration,
        commit: Duration,
        flush: Option<Duration>,
    ) {
        self.batch_entries.observe(entries as f64);
        self.batch_integrate.observe(integrate.as_secs_f64());
        self.batch_commit.observe(commit.as_secs_f64());
        if let Some(f) = flush {
            self.batch_flush.observe(f.as_secs_f64());
        }
        self.log_size.set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    fn failed(&self, _entries: usize) {
        self.batch_failures.inc();
    }

    fn refused(&self, requests: usize) {
        self.refused.inc_by(requests as u64);
    }
}

/// `GET /metrics`.
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let m = &state.metrics;
    m.queue_depth
        .set(i64::try_from(state.ledger.log().queue_depth()).unwrap_or(i64::MAX));
    m.log_size
        .set(i64::try_from(state.ledger.log().latest().size).unwrap_or(i64::MAX));
    m.degraded.set(i64::from(state.ledger.log().is_degraded()));
    if let Some(w) = state.ledger.witnessing() {
        use std::sync::atomic::Ordering::Relaxed;
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for (client, stats) in w.witnesses() {
            let name = [signed_note::Verifier::name(client.verifier())];
            m.witness_cosignatures
                .with_label_values(&name)
                .set(clamp(stats.cosigned.load(Relaxed)));
            m.witness_failures
                .with_label_values(&name)
                .set(clamp(stats.failures.load(Relaxed)));
            m.witness_latency
                .with_label_values(&name)
                .set(stats.last_micros.load(Relaxed) as f64 / 1e6);
            m.witness_size
                .with_label_values(&name)
                .set(clamp(client.size()));
        }
        m.cosigned_size
            .set(w.cosigned().map_or(0, |cp| clamp(cp.size)));
    }
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&m.registry.gather(), &mut out)
        .map_err(|e| Error::new(Code::Internal, format!("encoding metrics: {e}")))?;
    if let Ok(archive) = state.ledger.archive() {
        out.extend_from_slice(
            archive_metrics(&archive.counts(), archive.uploads().len()).as_bytes(),
        );
    }
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(out))
}

/// The archive's counters, in the Prometheus text format.
fn archive_metrics(c: &crate::archive::vault::Counts, uploads: usize) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    metric(
        "datapole_archive_objects",
        "gauge",
        "Archived objects not disposed of",
        c.objects.to_string(),
    );
    metric(
        "datapole_archive_bytes",
        "gauge",
        "Bytes of archived objects not disposed of (stored size)",
        c.usage.values().sum::<u64>().to_string(),
    );
    metric(
        "datapole_archive_uploads_open",
        "gauge",
        "Upload sessions open",
        uploads.to_string(),
    );
    metric(
        "datapole_archive_unrepaired_objects",
        "gauge",
        "Objects with a copy that failed its fixity check and is not repaired",
        c.unrepaired.len().to_string(),
    );
    metric(
        "datapole_archive_fixity_failures_total",
        "counter",
        "Copies found failed by fixity runs since start",
        c.failures_total.to_string(),
    );
    metric(
        "datapole_archive_repairs_total",
        "counter",
        "Failed copies repaired since start",
        c.repairs_total.to_string(),
    );
    metric(
        "datapole_archive_fixity_runs_total",
        "counter",
        "Fixity runs since start",
        c.runs_total.to_string(),
    );
    metric(
        "datapole_archive_last_fixity_run_timestamp_seconds",
        "gauge",
        "When the last fixity run ended (Unix time; 0: none since start)",
        c.last_run.unwrap_or(0).to_string(),
    );
    out
}

/// The body of `GET /healthz`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: &'static str,
}

/// The body of `GET /readyz` when ready.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Ready {
    /// Always `ready`.
    pub status: &'static str,
    /// The latest checkpoint's size.
    pub size: u64,
    /// The archive: `ok`, or `degraded` while an object has a copy that failed its fixity
    /// check and was not repaired (`unrepaired` says how many); absent without an archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<&'static str>,
    /// Objects with an unrepaired copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrepaired: Option<u64>,
}

/// `GET /healthz`: the process is up and answering.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(Health { status: "ok" })
}

/// `GET /readyz`: the store reads, and the sequencer runs and takes writes; otherwise 503
/// `not_ready` saying why.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let not_ready = |why: String| Error::new(Code::NotReady, why).retry_after(1);
    if !state.ledger.log().is_running() {
        return Err(not_ready("the sequencer has stopped".into()));
    }
    if state.ledger.log().is_degraded() {
        return Err(not_ready(
            "a commit failed and the store has not recovered yet: writes are refused".into(),
        ));
    }
    state
        .ledger
        .log()
        .store()
        .checkpoint()
        .map_err(|e| not_ready(format!("the store cannot be read: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json({
            let unrepaired = state
                .ledger
                .archive()
                .ok()
                .map(|a| a.counts().unrepaired.len() as u64);
            Ready {
                status: "ready",
                size: state.ledger.log().latest().size,
                archive: unrepaired.map(|n| if n == 0 { "ok" } else { "degraded" }),
                unrepaired,
            }
        }))
}
