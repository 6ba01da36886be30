#!/usr/bin/env bash
# The storage issue's figures, in one run, on one machine: deposits (closed loop) with the
# server's CPU per deposit, before and after, interleaved; p99 at a fixed offered rate; the
# PostgreSQL peer; and, with LARGE=1, a 10M-entry log (prefill time, start-up, memory, disk,
# tile and proof reads).
#
#   OLD=/path/to/old/datapole NEW=target/release/datapole \
#   LOADGEN=target/release/examples/loadgen OUT=docs/bench-results/storage \
#   [RUNS=3] [DURATION=30] [RATE=10000] [LARGE=1] [COUNT=10000000] bash benches/storage/run.sh
#
# Server CPU is read from /proc/<pid>/stat (utime + stime) around each run; the load generator
# reports its own throughput, latency percentiles and one core's Ed25519 verify rate.
set -euo pipefail

NEW=${NEW:-target/release/datapole}
LOADGEN=${LOADGEN:-target/release/examples/loadgen}
OUT=${OUT:-docs/bench-results/storage}
RUNS=${RUNS:-3}
DURATION=${DURATION:-30}
RATE=${RATE:-10000}
COUNT=${COUNT:-10000000}
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/dp-bench.XXXXXX)
SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
TICK=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# cpu_ticks PID: utime + stime of every thread of PID.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# start BIN DATA: starts a server, sets SERVER and URL, waits until it is ready.
start() {
    local port
    port=$(free_port)
    URL=http://127.0.0.1:$port
    "$1" serve --listen "127.0.0.1:$port" --data-dir "$2" >"$2.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null "$URL/readyz" && return 0
        sleep 0.1
    done
    echo "server did not start: $(tail -5 "$2.log")" >&2
    return 1
}

stop() {
    kill -TERM "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=
}

# deposits NAME BIN RUN [RATE]: one write run on a new log; prints a JSON line.
deposits() {
    local name=$1 bin=$2 run=$3 rate=${4:-0}
    local data="$TMP/$name-$run-$rate"
    start "$bin" "$data"
    local before after json="$OUT/deposits-$name-rate$rate-$run.json"
    before=$(cpu_ticks "$SERVER")
    "$LOADGEN" --url "$URL" --token "$(cat "$data/admin-token")" --duration "$DURATION" \
        --concurrency 64 --rate "$rate" --json "$json" >"$json.txt" 2>&1
    after=$(cpu_ticks "$SERVER")
    local rss
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
    stop
    python3 - "$json" "$before" "$after" "$TICK" "$name" "$rss" <<'EOF'
import json, sys
path, before, after, tick, name, rss = sys.argv[1:]
r = json.load(open(path))
cpu = (int(after) - int(before)) / int(tick)
ok = r["acknowledged"]
verify_us = 1e6 / r["ed25519_single_core"]
r["server_cpu_seconds"] = cpu
r["server_cpu_us_per_deposit"] = cpu * 1e6 / ok if ok else None
r["cpu_per_deposit_in_verifies"] = r["server_cpu_us_per_deposit"] / verify_us if ok else None
r["ratio_to_two_cores_of_verify"] = r["throughput"] / (2 * r["ed25519_single_core"])
r["server_rss_kb"] = int(rss)
r["binary"] = name
json.dump(r, open(path, "w"), indent=1)
keys = ["binary", "offered_rate", "throughput", "acknowledged", "failed", "p50_ms", "p99_ms",
        "server_cpu_us_per_deposit", "cpu_per_deposit_in_verifies",
        "ratio_to_two_cores_of_verify", "ed25519_single_core", "receipts_invalid", "checkpoints"]
print(json.dumps({k: (round(r[k], 3) if isinstance(r[k], float) else r[k]) for k in keys}))
EOF
}

echo "# closed loop, 64 connections, ${DURATION}s, new log each run" | tee "$OUT/summary.txt"
for run in $(seq 1 "$RUNS"); do
    if [ -n "${OLD:-}" ]; then deposits old "$OLD" "$run" | tee -a "$OUT/summary.txt"; fi
    deposits new "$NEW" "$run" | tee -a "$OUT/summary.txt"
done

echo "# open loop at $RATE/s offered" | tee -a "$OUT/summary.txt"
for run in $(seq 1 "$RUNS"); do
    if [ -n "${OLD:-}" ]; then deposits old "$OLD" "$run" "$RATE" | tee -a "$OUT/summary.txt"; fi
    deposits new "$NEW" "$run" "$RATE" | tee -a "$OUT/summary.txt"
done

if [ -x /usr/bin/pgbench ]; then
    echo "# PostgreSQL hash-chained table (benches/pg/run.sh), 64 clients" | tee -a "$OUT/summary.txt"
    DURATION=$DURATION bash benches/pg/run.sh 2>&1 | tee "$OUT/pgbench.txt" | grep -E "^tps|tps =" | tee -a "$OUT/summary.txt" || true
fi

if [ "${LARGE:-0}" = 1 ]; then
    data="$TMP/large"
    echo "# large log: $COUNT entries" | tee -a "$OUT/summary.txt"
    start_s=$(date +%s.%N)
    "$NEW" prefill --count "$COUNT" --data-dir "$data" | tail -3 | tee -a "$OUT/summary.txt"
    end_s=$(date +%s.%N)
    echo "prefill_seconds $(echo "$end_s - $start_s" | bc)" | tee -a "$OUT/summary.txt"
    echo "disk_bytes $(du -sb "$data" | cut -f1) public $(du -sb "$data/public" | cut -f1) store $(du -sb "$data/store" | cut -f1)" | tee -a "$OUT/summary.txt"
    for attempt in 1 2 3; do
        t0=$(date +%s.%N)
        start "$NEW" "$data"
        t1=$(date +%s.%N)
        echo "startup_seconds $(echo "$t1 - $t0" | bc) rss_kb $(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")" | tee -a "$OUT/summary.txt"
        if [ "$attempt" != 3 ]; then stop; fi
    done
    for run in $(seq 1 "$RUNS"); do
        for kind in inclusion tiles; do
            "$LOADGEN" --url "$URL" --token "$(cat "$data/admin-token")" --read "$kind" \
                --duration 10 --concurrency 64 --json "$OUT/$kind-$run.json" >"$OUT/$kind-$run.txt" 2>&1
            python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], r.get("throughput"), "p99", r.get("p99_ms"))' \
                "$OUT/$kind-$run.json" "$kind" | tee -a "$OUT/summary.txt"
        done
    done
    echo "rss_after_reads_kb $(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")" | tee -a "$OUT/summary.txt"
    stop
fi
