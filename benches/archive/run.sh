#!/usr/bin/env bash
# The archive issue's figures, in one run, on one machine and one file system:
#   - the disk: sequential write (dd conv=fdatasync) and cold sequential read (dd after
#     dropping the page cache) of a SIZE_MB file;
#   - upload: a SIZE_MB random file in one streamed PATCH, public and private, as a ratio to
#     the dd write; the server's resident memory sampled during a BIG_MB upload;
#   - download: the same object, cold, as a ratio to the dd read (curl to /dev/null);
#   - fixity: COUNT objects of OBJ_KB, one unthrottled run, as a ratio to the dd read;
#   - deposits' p99 at RATE/s for DURATION s, without and with a fixity run at the default
#     budget going on.
#
#   BIN=target/release/datapole CLIENT=target/release/examples/archive_bench \
#   LOADGEN=target/release/examples/loadgen OUT=docs/bench-results/archive \
#   [SIZE_MB=2048] [BIG_MB=5120] [COUNT=10000] [OBJ_KB=256] [RATE=1000] [DURATION=20] \
#   [DIR=/var/tmp] bash benches/archive/run.sh
#
# Dropping the page cache needs root (/proc/sys/vm/drop_caches); without it the reads are
# reported as warm and say so.
set -euo pipefail

BIN=${BIN:-target/release/datapole}
CLIENT=${CLIENT:-target/release/examples/archive_bench}
LOADGEN=${LOADGEN:-target/release/examples/loadgen}
OUT=${OUT:-docs/bench-results/archive}
SIZE_MB=${SIZE_MB:-2048}
BIG_MB=${BIG_MB:-5120}
COUNT=${COUNT:-10000}
OBJ_KB=${OBJ_KB:-256}
RATE=${RATE:-1000}
DURATION=${DURATION:-20}
DIR=${DIR:-/var/tmp}
mkdir -p "$OUT"
TMP=$(mktemp -d "$DIR/dp-archive-bench.XXXXXX")
SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cold() { sync; if echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then echo cold; else echo warm; fi; }
now() { date +%s.%N; }
rate() { python3 -c "import sys; print(round($1 / 1e6 / ($3 - $2), 1))"; }

start() {
    local port
    port=$(free_port)
    URL=http://127.0.0.1:$port
    "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$1" --fixity-interval-hours 0 "${@:2}" >"$1.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null "$URL/readyz" && return 0
        sleep 0.1
    done
    echo "server did not start: $(tail -5 "$1.log")" >&2
    return 1
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=; }

echo "== disk: dd of $SIZE_MB MiB in $TMP"
t0=$(now); dd if=/dev/zero of="$TMP/dd.bin" bs=1M count="$SIZE_MB" conv=fdatasync status=none; t1=$(now)
DD_WRITE=$(rate $((SIZE_MB << 20)) "$t0" "$t1")
state=$(cold)
t0=$(now); dd if="$TMP/dd.bin" of=/dev/null bs=1M status=none; t1=$(now)
DD_READ=$(rate $((SIZE_MB << 20)) "$t0" "$t1")
rm -f "$TMP/dd.bin"
echo "dd write $DD_WRITE MB/s, $state read $DD_READ MB/s"

echo "== upload and download of $SIZE_MB MiB"
head -c $((SIZE_MB << 20)) /dev/urandom >"$TMP/file.bin"
start "$TMP/data"
ADMIN=$(cat "$TMP/data/admin-token")
sync
UP_PUBLIC=$("$CLIENT" --url "$URL" --token "$ADMIN" upload --file "$TMP/file.bin")
UP_PRIVATE=$("$CLIENT" --url "$URL" --token "$ADMIN" upload --file "$TMP/file.bin" --private)
echo "$UP_PUBLIC"; echo "$UP_PRIVATE"
download() {
    local up=$1 dataset version token
    dataset=$(echo "$up" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dataset_id"])')
    version=$(echo "$up" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
    token=$(echo "$up" | python3 -c 'import json,sys; print(json.load(sys.stdin)["depositor_token"])')
    cold >/dev/null
    local t0 t1
    t0=$(now)
    curl -sSf -o /dev/null -H "Authorization: Bearer $token" "$URL/v1/datasets/$dataset/versions/$version/content"
    t1=$(now)
    rate $((SIZE_MB << 20)) "$t0" "$t1"
}
DOWN_PUBLIC=$(download "$UP_PUBLIC")
DOWN_PRIVATE=$(download "$UP_PRIVATE")
echo "download public $DOWN_PUBLIC MB/s, private $DOWN_PRIVATE MB/s"
rm -f "$TMP/file.bin"

echo "== resident memory during a $BIG_MB MiB upload"
head -c $((BIG_MB << 20)) /dev/urandom >"$TMP/big.bin"
RSS_BEFORE=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
"$CLIENT" --url "$URL" --token "$ADMIN" upload --file "$TMP/big.bin" >"$TMP/big.json" &
UPLOADER=$!
RSS_MAX=$RSS_BEFORE
while kill -0 "$UPLOADER" 2>/dev/null; do
    r=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
    [ "$r" -gt "$RSS_MAX" ] && RSS_MAX=$r
    sleep 0.2
done
wait "$UPLOADER"
cat "$TMP/big.json"
rm -f "$TMP/big.bin"
echo "RSS before $RSS_BEFORE KiB, max during $RSS_MAX KiB"
stop

echo "== fixity: $COUNT objects of $OBJ_KB KiB"
start "$TMP/fix"
ADMIN=$(cat "$TMP/fix/admin-token")
FILL=$("$CLIENT" --url "$URL" --token "$ADMIN" fill --count "$COUNT" --size $((OBJ_KB << 10)))
echo "$FILL"
cold >/dev/null
t0=$(now)
RUN=$(curl -sSf -X POST -H "Authorization: Bearer $ADMIN" "$URL/v1/archive/fixity")
t1=$(now)
FIX=$(rate $((COUNT * (OBJ_KB << 10))) "$t0" "$t1")
echo "$RUN" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("checked", r["checked"], "intact", r["intact"])'
echo "fixity unthrottled: $FIX MB/s"

echo "== deposits' p99 at $RATE/s, without and with a fixity run at the default budget"
"$LOADGEN" --url "$URL" --token "$ADMIN" --duration "$DURATION" --concurrency 64 --rate "$RATE" \
    --json "$OUT/p99-quiet.json" >"$OUT/p99-quiet.txt" 2>&1
cold >/dev/null
curl -sSf -X POST -H "Authorization: Bearer $ADMIN" "$URL/v1/archive/fixity?budget=$((64 << 20))" >"$TMP/run.json" &
SCRUB=$!
"$LOADGEN" --url "$URL" --token "$ADMIN" --duration "$DURATION" --concurrency 64 --rate "$RATE" \
    --json "$OUT/p99-scrubbing.json" >"$OUT/p99-scrubbing.txt" 2>&1
SCRUBBING=$(kill -0 "$SCRUB" 2>/dev/null && echo yes || echo no)
wait "$SCRUB" || true
stop

python3 - "$OUT" "$DD_WRITE" "$DD_READ" "$state" "$UP_PUBLIC" "$UP_PRIVATE" "$DOWN_PUBLIC" "$DOWN_PRIVATE" \
    "$RSS_BEFORE" "$RSS_MAX" "$FIX" "$SCRUBBING" "$SIZE_MB" "$BIG_MB" "$COUNT" "$OBJ_KB" <<'EOF'
import json, sys
(out, ddw, ddr, state, upp, upv, dnp, dnv, rss0, rss1, fix, scrubbing,
 size_mb, big_mb, count, obj_kb) = sys.argv[1:]
ddw, ddr, fix = float(ddw), float(ddr), float(fix)
upp, upv = json.loads(upp), json.loads(upv)
q = json.load(open(f"{out}/p99-quiet.json"))
s = json.load(open(f"{out}/p99-scrubbing.json"))
def p99(r):
    return r.get("latency_ms", {}).get("p99", r.get("p99_ms"))
r = {
    "file_mb": int(size_mb), "read_cache": state,
    "dd_write_mb_s": ddw, "dd_read_mb_s": ddr,
    "upload_public_mb_s": round(upp["mb_per_s"], 1), "upload_private_mb_s": round(upv["mb_per_s"], 1),
    "upload_public_ratio": round(upp["mb_per_s"] / ddw, 3),
    "upload_private_ratio": round(upv["mb_per_s"] / ddw, 3),
    "download_public_mb_s": float(dnp), "download_private_mb_s": float(dnv),
    "download_public_ratio": round(float(dnp) / ddr, 3),
    "download_private_ratio": round(float(dnv) / ddr, 3),
    "big_upload_mb": int(big_mb),
    "rss_growth_mb": round((int(rss1) - int(rss0)) / 1024, 1),
    "fixity_objects": int(count), "fixity_object_kb": int(obj_kb),
    "fixity_mb_s": fix, "fixity_ratio": round(fix / ddr, 3),
    "p99_ms_quiet": p99(q), "p99_ms_scrubbing": p99(s),
    "p99_ratio": round(p99(s) / p99(q), 3) if p99(q) else None,
    "scrubber_still_running_at_end": scrubbing == "yes",
}
json.dump(r, open(f"{out}/summary.json", "w"), indent=1)
print(json.dumps(r, indent=1))
EOF
