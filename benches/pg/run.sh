#!/usr/bin/env bash
# PostgreSQL peer for docs/BENCHMARKS.md: a hash-chained audit table under pgbench.
#
# Starts a private, throwaway PostgreSQL cluster (initdb into a temporary directory, Unix
# socket only, in that directory), loads schema.sql, runs hashchain.sql with pgbench
# (64 clients, 2 threads), prints the throughput, then checks the whole chain in SQL and
# removes the cluster.
#
#   bash benches/pg/run.sh
#
# Environment:
#   DURATION  seconds of pgbench (default 30)
#   CLIENTS   pgbench clients (default 64)
#   THREADS   pgbench threads (default 2)
#   PAYLOAD   random payload bytes per entry, 1..1024 (default 700)
#   PG_BIN    directory holding initdb, pg_ctl, postgres, psql (found if unset)
#   PGBENCH   pgbench binary (found if unset)
#   PG_USER   unprivileged user that runs the cluster when started as root (default postgres)
#
# Server settings: fsync, synchronous_commit and full_page_writes on (as by default, set
# explicitly), max_connections = 100, everything else left at initdb's defaults.
set -euo pipefail

DURATION=${DURATION:-30}
CLIENTS=${CLIENTS:-64}
THREADS=${THREADS:-2}
PAYLOAD=${PAYLOAD:-700}
PG_USER=${PG_USER:-postgres}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "run.sh: $*" >&2; exit 1; }

case $PAYLOAD in ''|*[!0-9]*) die "PAYLOAD must be an integer";; esac
(( PAYLOAD >= 1 && PAYLOAD <= 1024 )) || die "PAYLOAD must be 1..1024 (gen_random_bytes' limit)"

# --- binaries -------------------------------------------------------------------------
if [[ -z ${PG_BIN:-} ]]; then
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) \
             "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/x)")" \
             /usr/local/pgsql/bin /usr/local/bin; do
        if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then PG_BIN=$d; break; fi
    done
fi
[[ -n ${PG_BIN:-} && -x $PG_BIN/initdb ]] || die "initdb/pg_ctl/postgres not found; set PG_BIN"
PSQL=$PG_BIN/psql;       [[ -x $PSQL ]] || PSQL=$(command -v psql) || die "psql not found"
if [[ -z ${PGBENCH:-} ]]; then
    PGBENCH=$PG_BIN/pgbench; [[ -x $PGBENCH ]] || PGBENCH=$(command -v pgbench) || die "pgbench not found"
fi

# --- who runs the server --------------------------------------------------------------
# initdb and postgres refuse to run as root: use an unprivileged user for everything that
# touches the cluster.
if [[ $EUID -eq 0 ]]; then
    id -u "$PG_USER" >/dev/null 2>&1 \
        || die "running as root, and user '$PG_USER' does not exist (create it, or set PG_USER)"
    as_pg() { runuser -u "$PG_USER" -- "$@"; }   # keeps the environment (PGHOST...)
else
    PG_USER=$(id -un)
    as_pg() { "$@"; }
fi

# --- a free port (it only names the socket file: the server listens on no TCP port) ---
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 20000 ))
    if port_free "$p"; then PORT=$p; break; fi
done
[[ -n $PORT ]] || die "no free port found"

# --- the private cluster --------------------------------------------------------------
TMP=$(mktemp -d /tmp/datapole-pgbench.XXXXXX)
chmod 700 "$TMP"
[[ $EUID -eq 0 ]] && chown "$PG_USER": "$TMP"
DATA=$TMP/data
STARTED=
cleanup() {
    local rc=$?
    if [[ -n $STARTED ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 \
            || echo "run.sh: pg_ctl stop failed; see $TMP/server.log" >&2
    fi
    if [[ $rc -ne 0 && -f $TMP/server.log ]]; then
        echo "--- last lines of the server log:" >&2; tail -n 20 "$TMP/server.log" >&2
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The scripts are copied so that the unprivileged user can read them; work from $TMP so that
# it can also read its working directory.
cp "$HERE/schema.sql" "$HERE/hashchain.sql" "$TMP/"
[[ $EUID -eq 0 ]] && chown "$PG_USER": "$TMP"/*.sql
cd "$TMP"

as_pg "$PG_BIN/initdb" -D "$DATA" -U "$PG_USER" --auth=trust -E UTF8 --no-locale >"$TMP/initdb.log" 2>&1 \
    || { cat "$TMP/initdb.log" >&2; die "initdb failed"; }

OPTS="-c port=$PORT -c listen_addresses='' -c unix_socket_directories='$TMP'"
OPTS+=" -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=100"
STARTED=1
as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$TMP/server.log" -o "$OPTS" -w -t 60 start >/dev/null \
    || die "pg_ctl start failed"

export PGHOST=$TMP PGPORT=$PORT PGUSER=$PG_USER
unset PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS
as_pg "$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE bench" || die "createdb failed"
as_pg "$PSQL" -X -q -v ON_ERROR_STOP=1 -d bench -f "$TMP/schema.sql" || die "schema failed"

psql_pg() { as_pg "$PSQL" -X -At -v ON_ERROR_STOP=1 -d bench "$@"; }

echo "# $(psql_pg -c 'SELECT version()')"
echo "# $(psql_pg -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
        WHERE name IN ('fsync','synchronous_commit','full_page_writes','wal_sync_method',
                       'max_connections','shared_buffers','commit_delay')")"
echo "# pgbench -n -f hashchain.sql -c $CLIENTS -j $THREADS -T $DURATION -P 5 -D payload=$PAYLOAD"

# --- the run --------------------------------------------------------------------------
as_pg "$PGBENCH" -n -f "$TMP/hashchain.sql" -c "$CLIENTS" -j "$THREADS" -T "$DURATION" -P 5 \
    -D payload="$PAYLOAD" bench 2>&1 | tee "$TMP/pgbench.out" || die "pgbench failed"

PROCESSED=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$TMP/pgbench.out")
TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$TMP/pgbench.out")
[[ -n $PROCESSED && -n $TPS ]] || die "could not read pgbench's summary"

# --- the chain, checked in SQL --------------------------------------------------------
# Every entry: seq is 1..n without a gap, prev is the previous entry's hash (the genesis
# hash for seq 1), hash = sha256(prev || payload), payload has PAYLOAD bytes; the head
# points at entry n.
CHECK=$(psql_pg -F ' ' -c "
    WITH c AS (
        SELECT seq, prev, hash, payload,
               row_number() OVER (ORDER BY seq) AS n,
               lag(hash, 1, decode(repeat('00', 32), 'hex')) OVER (ORDER BY seq) AS expected_prev
        FROM audit_log)
    SELECT count(*),
           count(*) FILTER (WHERE seq <> n),
           count(*) FILTER (WHERE prev <> expected_prev),
           count(*) FILTER (WHERE hash <> sha256(prev || payload)),
           count(*) FILTER (WHERE length(payload) <> $PAYLOAD),
           (SELECT h.seq = coalesce(max(c.seq), 0)
                   AND h.hash = coalesce((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1),
                                         decode(repeat('00', 32), 'hex'))
            FROM head h WHERE h.id = 1)
    FROM c") || die "the chain check query failed"
read -r ROWS BAD_SEQ BAD_PREV BAD_HASH BAD_SIZE HEAD_OK <<<"$CHECK"

echo "# chain: $ROWS entries; bad seq $BAD_SEQ, bad prev $BAD_PREV, bad hash $BAD_HASH, bad size $BAD_SIZE; head matches last entry: $HEAD_OK"
echo "# pgbench counted $PROCESSED transactions; the table holds $ROWS entries"

OK=1
[[ $BAD_SEQ -eq 0 && $BAD_PREV -eq 0 && $BAD_HASH -eq 0 && $BAD_SIZE -eq 0 && $HEAD_OK == t ]] \
    || { echo "run.sh: CHAIN BROKEN" >&2; OK=; }
[[ $ROWS -eq $PROCESSED ]] \
    || { echo "run.sh: entry count $ROWS differs from pgbench's $PROCESSED transactions" >&2; OK=; }

echo "tps = $TPS ($PROCESSED appends in ${DURATION} s, $CLIENTS clients, payload $PAYLOAD bytes, chain verified: $([[ -n $OK ]] && echo yes || echo NO))"
[[ -n $OK ]]
