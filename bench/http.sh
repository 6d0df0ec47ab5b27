#!/usr/bin/env bash
# HTTP benchmarks of `trellis serve` on SQLite, with wrk. This measures and
# prints; it never passes or fails on a number (see docs/benchmarks.md).
#
#   (a) single-record POSTs:       wrk -t2 -c32 -d15s, one JSON object per request
#   (b) batch POSTs:               the same, a JSON array of 500 records per request
#   (c) start-to-ready:            spawn → first 200 from GET /healthz, fresh and existing DB
#   (d) resident memory (VmRSS):   idle after start, after the load
#
# wrk and the server share this machine's cores: the numbers are for both
# together, not for the server alone.
#
# Knobs (environment): PORT (18080), DURATION (15s), THREADS (2), CONNS (32),
# BATCH (500), READY_RUNS (5), KEEP=1 keeps the temp dir.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${PORT:-18080}
DURATION=${DURATION:-15s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
BATCH=${BATCH:-500}
READY_RUNS=${READY_RUNS:-5}
BASE=http://127.0.0.1:$PORT

if ! command -v wrk >/dev/null; then
    echo "wrk is missing: installing it"
    apt-get update && apt-get install -y wrk
fi

cargo build --release -p trellis
BIN=$ROOT/target/release/trellis
TMP=$(mktemp -d "${TMPDIR:-/tmp}/trellis-http-bench.XXXXXX")
SERVER_PID=

cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -z ${KEEP:-} ]]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap cleanup EXIT

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "port $PORT is already in use; set PORT" >&2
    exit 1
fi

# 0 when GET /healthz answers 200. Pure bash (no curl start-up per poll).
probe() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$PORT" &&
            printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 &&
            IFS= read -r line <&3 && [[ $line == "HTTP/1.1 200"* ]]
    ) 2>/dev/null
}

# start DBFILE LOG: spawns the server, polls /healthz every 5 ms; sets
# SERVER_PID and READY_MS (spawn to first 200, in ms).
start() {
    local db=$1 log=$2 t0 t1
    t0=$(date +%s%N)
    "$BIN" serve --db "sqlite://$db" --bind "127.0.0.1:$PORT" >"$log" 2>"$log.err" &
    SERVER_PID=$!
    until probe; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the server exited:" >&2
            cat "$log" "$log.err" >&2
            exit 1
        fi
        sleep 0.005
    done
    t1=$(date +%s%N)
    READY_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
}

stop() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
hwm_mib() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
# CPU seconds (user + system) the server has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"; }
# The server's own "ready in N ms" (bind done, measured inside the process).
self_ready() { sed -n 's/.*ready in \([0-9]*\) ms.*/\1/p' "$1"; }

# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }

echo
echo "== machine"
echo "cores: $(nproc), $(lscpu | sed -n 's/^Model name: *//p' | head -1), memory: $(free -g | awk '/^Mem:/ { print $2 }') GiB"
echo "server and wrk run on the same $(nproc) cores"
echo "temp dir: $TMP"

echo
echo "== (c) start-to-ready, fresh (empty) database, $READY_RUNS runs"
fresh=() fresh_self=()
for i in $(seq "$READY_RUNS"); do
    start "$TMP/fresh$i.db" "$TMP/fresh$i.log"
    fresh+=("$READY_MS")
    fresh_self+=("$(self_ready "$TMP/fresh$i.log")")
    stop
done
echo "spawn → first 200: ${fresh[*]} ms (server's own 'ready in': ${fresh_self[*]} ms)"

echo
echo "== the server under load: $TMP/bench.db"
start "$TMP/bench.db" "$TMP/bench.log"
echo "ready in $READY_MS ms (fresh database)"
PASSWORD=$(sed -n 's/^First start: created admin@localhost with password \([^ ]*\).*/\1/p' "$TMP/bench.log")
[[ -n $PASSWORD ]] || { echo "no first-start password in the server's output" >&2; exit 1; }
sleep 1
RSS_IDLE_START=$(rss_mib)
echo "idle VmRSS after start: $RSS_IDLE_START MiB"

TOKEN=$(curl -sf -X POST "$BASE/api/v1/auth/token" -H 'Content-Type: application/json' \
    -d "{\"email\":\"admin@localhost\",\"password\":\"$PASSWORD\"}" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[[ -n $TOKEN ]] || { echo "sign-in failed" >&2; exit 1; }
status=$(curl -s -o "$TMP/form.json" -w '%{http_code}' -X POST "$BASE/api/v1/forms" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{
      "key": "bench_customer", "title": "Bench customer",
      "schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"},
        "phone": {"type": "string", "format": "phone"},
        "level": {"type": "string"},
        "spend": {"type": "number", "format": "money"}}},
      "indexes": ["spend"]}')
[[ $status == 201 ]] || { echo "creating the form answered $status: $(cat "$TMP/form.json")" >&2; exit 1; }

cat >"$TMP/single.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"name":"Customer 1","phone":"13800138000","level":"B","spend":1234.5}'
EOF
cat >"$TMP/batch.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
local levels = {"A", "B", "C", "D"}
local items = {}
for i = 1, $BATCH do
  items[i] = string.format('{"name":"Customer %d","phone":"138%08d","level":"%s","spend":%d.%02d}',
    i, i * 7919 % 100000000, levels[i % 4 + 1], i * 7919 % 100000, i % 100)
end
wrk.body = "[" .. table.concat(items, ",") .. "]"
EOF
# One request by hand, to be sure the body is accepted before timing.
status=$(curl -s -o "$TMP/probe.json" -w '%{http_code}' -X POST "$BASE/api/v1/forms/bench_customer/records" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"name":"Customer 1","phone":"13800138000","level":"B","spend":1234.5}')
[[ $status == 201 ]] || { echo "a single-record POST answered $status: $(cat "$TMP/probe.json")" >&2; exit 1; }

# wrk_run NAME SCRIPT DURATION: runs wrk, keeps its output in $TMP/NAME.txt.
wrk_run() {
    local name=$1 script=$2 duration=$3 cpu0 cpu1
    cpu0=$(cpu_s)
    wrk -t"$THREADS" -c"$CONNS" -d"$duration" --timeout 10s --latency -s "$script" "$BASE/api/v1/forms/bench_customer/records" >"$TMP/$name.txt"
    cpu1=$(cpu_s)
    SERVER_CPU=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.1f", b - a }')
    if grep -q 'Non-2xx' "$TMP/$name.txt"; then
        echo "warning: $name got non-2xx answers: $(grep 'Non-2xx' "$TMP/$name.txt")" >&2
    fi
}
rps() { awk '/^Requests\/sec:/ { print $2 }' "$TMP/$1.txt"; }
reqs() { awk '/requests in/ { print $1 }' "$TMP/$1.txt"; }
lat() { awk -v p="$2" '$1 == p { print $2 }' "$TMP/$1.txt"; }
errors() { grep -E 'Non-2xx|Socket errors' "$TMP/$1.txt" || echo "none"; }

echo
echo "== (a) single-record POSTs: wrk -t$THREADS -c$CONNS -d$DURATION (after a 3 s warm-up)"
wrk_run warm "$TMP/single.lua" 3s
wrk_run single "$TMP/single.lua" "$DURATION"
SINGLE_CPU=$SERVER_CPU
cat "$TMP/single.txt"
echo "server CPU during the run: $SINGLE_CPU s"

echo
echo "== (b) batch POSTs of $BATCH records: wrk -t$THREADS -c$CONNS -d$DURATION"
wrk_run batch "$TMP/batch.lua" "$DURATION"
BATCH_CPU=$SERVER_CPU
cat "$TMP/batch.txt"
echo "server CPU during the run: $BATCH_CPU s"

sleep 2
RSS_AFTER=$(rss_mib)
HWM=$(hwm_mib)
echo
echo "idle VmRSS after the load: $RSS_AFTER MiB (peak VmHWM $HWM MiB)"
stop

RECORDS=
if command -v sqlite3 >/dev/null; then
    RECORDS=$(sqlite3 "$TMP/bench.db" "SELECT count(*) FROM records WHERE form = 'bench_customer'")
    echo "records in the database: $RECORDS (wrk counted $(( $(reqs warm) + $(reqs single) + 1 )) single + $(reqs batch) × $BATCH batched completed requests)"
fi

echo
echo "== (c) start-to-ready, existing database ($TMP/bench.db, ${RECORDS:-?} records), $READY_RUNS runs"
existing=() existing_self=()
for i in $(seq "$READY_RUNS"); do
    start "$TMP/bench.db" "$TMP/existing$i.log"
    existing+=("$READY_MS")
    existing_self+=("$(self_ready "$TMP/existing$i.log")")
    if [[ $i == "$READY_RUNS" ]]; then
        sleep 1
        RSS_IDLE_EXISTING=$(rss_mib)
    fi
    stop
done
echo "spawn → first 200: ${existing[*]} ms (server's own 'ready in': ${existing_self[*]} ms)"
echo "idle VmRSS after start on the existing database: $RSS_IDLE_EXISTING MiB"

single_rps=$(rps single)
batch_rps=$(rps batch)
batch_records=$(awk -v r="$batch_rps" -v b="$BATCH" 'BEGIN { printf "%.0f", r * b }')
echo
echo "== summary (SQLite; wrk and server on the same $(nproc) cores)"
printf '%-46s %-28s %s\n' "measure" "result" "target"
printf '%-46s %-28s %s\n' "(a) single-record POST" "$single_rps req/s" "≥ 2,500 req/s"
printf '%-46s %-28s %s\n' "    latency p50 / p99" "$(lat single 50%) / $(lat single 99%)" ""
printf '%-46s %-28s %s\n' "(b) batch POST of $BATCH" "$batch_rps req/s = $batch_records records/s" "≥ 40,000 records/s"
printf '%-46s %-28s %s\n' "    latency p50 / p99" "$(lat batch 50%) / $(lat batch 99%)" ""
printf '%-46s %-28s %s\n' "(c) start-to-ready, fresh DB (median / max)" "$(median "${fresh[@]}") / $(max "${fresh[@]}") ms" "< 500 ms"
printf '%-46s %-28s %s\n' "(c) start-to-ready, existing DB (median / max)" "$(median "${existing[@]}") / $(max "${existing[@]}") ms" "< 500 ms"
printf '%-46s %-28s %s\n' "(d) idle VmRSS after start (fresh / existing)" "$RSS_IDLE_START / $RSS_IDLE_EXISTING MiB" "< 40 MB"
printf '%-46s %-28s %s\n' "(d) idle VmRSS after the load (peak)" "$RSS_AFTER MiB ($HWM MiB)" ""
printf '%-46s %-28s %s\n' "errors (a) / (b)" "$(errors single) / $(errors batch)" ""
