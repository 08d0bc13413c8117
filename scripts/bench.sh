#!/usr/bin/env bash
# Registration throughput and latency benchmark (`make bench`).
#
#   1. builds latchkeyd, latchkey_loadgen and latchkey_micro_bench if needed;
#   2. starts latchkeyd on a free loopback port with a bench configuration in a fresh data directory
#      (SQLite with sqlite_synchronous = "full": durability is never lowered for a figure);
#   3. runs complete registrations at the maximum rate, then at half the achieved rate for the latency figure;
#   4. on the same server, at the maximum rate: locked re-registrations (latchkey_loadgen --scenario lock: new
#      SMS verification of a number with Registration Lock, 423, backup restore with the 423's credentials,
#      registration with the lock token) and backup restores with device credentials (--scenario restore);
#   5. reports server CPU and peak RSS, stops the server with SIGTERM, runs the micro-benchmarks;
#   6. prints a summary and writes it to $BUILD_DIR/bench/registration.json ("lock" and "restore" for step 4);
#   7. the message relay (latchkey_relay_loadgen, bench/relay_loadgen.cc) on a second, fresh latchkeyd with a relay
#      configuration: idle authenticated sockets (memory per connection), online delivery at the maximum rate
#      (PUT /v1/messages and the socket's send frame), paced at 1,000 sends/s and at half the maximum, offline store
#      and drain; summary in $BUILD_DIR/bench/relay.json.
#
# Environment (all optional): BUILD_DIR (build), BENCH_DURATION (10s), BENCH_WARMUP (2s), BENCH_CONCURRENCY (64),
# BENCH_LOADGEN_THREADS (1), BENCH_POW_BITS (4), BENCH_KEEP_DATA (0: the data directory is removed),
# BENCH_SKIP_MICRO (0), BENCH_SKIP_BUILD (0), BENCH_SKIP_LOCK (0: 1 skips step 4),
# BENCH_REQUESTS_PER_CONNECTION (0 = keep-alive throughout), LATCHKEYD (a server binary to use instead of building
# $BUILD_DIR/latchkeyd).
# BENCH_ONLY (all: both parts; registration: steps 1-6; relay: steps 1 and 7, no micro-benchmarks).
# Relay part: BENCH_RELAY_DURATION (10s), BENCH_RELAY_WARMUP (2s), BENCH_RELAY_RECIPIENTS (64),
# BENCH_RELAY_DEVICES (1: devices per recipient), BENCH_RELAY_SENDERS (48), BENCH_RELAY_WS_WINDOW (32: send frames in flight per sender socket),
# BENCH_RELAY_CONNECTIONS (10000 idle sockets; past 20,000 the load generator spreads them over several loopback
# source addresses, one per 20,000, and each process needs that many descriptors), BENCH_RELAY_IDLE_DEVICES (6), BENCH_RELAY_LOADGEN_THREADS (one per CPU),
# BENCH_RELAY_STEADY_RATE (1000 sends/s), BENCH_RELAY_MACHINE_CHECK (0.5s of loopback ping-pong before each run; 0: off), BENCH_RELAY_SCENARIOS (idle,online-http,online-ws,paced,offline),
# BENCH_RELAY_STORAGE_EXTRA (lines added to the relay server's [storage] table, e.g. 'checkpoint_pages = 8000'),
# BENCH_RELAY_SERVER_EXTRA (lines added to its [server] table, e.g. 'io_threads = 1'),
# BENCH_RELAY_HALF_RATE (sends/s of the socket's half-rate run when the scenarios have no online-ws max run to halve).
# LATCHKEY_RELAY_LOADGEN (a relay load generator binary to use instead of $BUILD_DIR/bench/latchkey_relay_loadgen).
# Exit status: 0 when every run completed without errors and the server exited 0 on SIGTERM, else 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
CONCURRENCY="${BENCH_CONCURRENCY:-64}"
LOADGEN_THREADS="${BENCH_LOADGEN_THREADS:-1}"
POW_BITS="${BENCH_POW_BITS:-4}"
KEEP_DATA="${BENCH_KEEP_DATA:-0}"
SKIP_MICRO="${BENCH_SKIP_MICRO:-0}"
SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"
SKIP_LOCK="${BENCH_SKIP_LOCK:-0}"
REQS_PER_CONN="${BENCH_REQUESTS_PER_CONNECTION:-0}"   # 0: each client keeps one connection
ONLY="${BENCH_ONLY:-all}"
case "$ONLY" in
  all) RUN_REG=1; RUN_RELAY=1; RUN_INCIDENT=1 ;;
  registration) RUN_REG=1; RUN_RELAY=0; RUN_INCIDENT=0 ;;
  relay) RUN_REG=0; RUN_RELAY=1; RUN_INCIDENT=0; SKIP_MICRO=1 ;;
  incident) RUN_REG=0; RUN_RELAY=0; RUN_INCIDENT=1; SKIP_MICRO=1 ;;
  *) printf 'bench: error: BENCH_ONLY must be all, registration, relay or incident (not %s)\n' "$ONLY" >&2; exit 2 ;;
esac

OUT_DIR="$BUILD_DIR/bench"
SERVER="${LATCHKEYD:-$BUILD_DIR/latchkeyd}"
LOADGEN="$OUT_DIR/latchkey_loadgen"
MICRO="$OUT_DIR/latchkey_micro_bench"
RELAY_LOADGEN="${LATCHKEY_RELAY_LOADGEN:-$OUT_DIR/latchkey_relay_loadgen}"

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v python3 >/dev/null || die "python3 is needed (scripts/install-deps.sh)"
command -v curl >/dev/null || die "curl is needed (scripts/install-deps.sh)"

# ---------------------------------------------------------------------------------------------------------------
# 1. Build
if [ "$SKIP_BUILD" != 1 ]; then
  if [ -f "$BUILD_DIR/CMakeCache.txt" ]; then
    # Re-running configure picks up bench/CMakeLists.txt if the tree was configured before it existed.
    cmake -S . -B "$BUILD_DIR" -DLATCHKEY_BUILD_BENCH=ON >/dev/null
  elif command -v ninja >/dev/null; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DLATCHKEY_BUILD_BENCH=ON
  else
    cmake -S . -B "$BUILD_DIR" -DLATCHKEY_BUILD_BENCH=ON
  fi
  TARGETS=()
  [ -n "${LATCHKEYD:-}" ] || TARGETS+=(latchkeyd)
  [ "$RUN_REG" != 1 ] || TARGETS+=(latchkey_loadgen)
  [ "$RUN_RELAY" != 1 ] || TARGETS+=(latchkey_relay_loadgen)
  [ "$RUN_INCIDENT" != 1 ] || TARGETS+=(latchkey_incident_bench)
  cmake --build "$BUILD_DIR" --target "${TARGETS[@]}"
  if [ "$SKIP_MICRO" != 1 ]; then
    cmake --build "$BUILD_DIR" --target latchkey_micro_bench || { log "warning: latchkey_micro_bench did not build"; SKIP_MICRO=1; }
  fi
fi
[ -x "$SERVER" ] || die "$SERVER is missing"
[ "$RUN_REG" != 1 ] || [ -x "$LOADGEN" ] || die "$LOADGEN is missing"
[ "$RUN_RELAY" != 1 ] || [ -x "$RELAY_LOADGEN" ] || die "$RELAY_LOADGEN is missing"

BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)"
# An empty cache entry means the top-level CMakeLists.txt default.
[ -n "$BUILD_TYPE" ] || BUILD_TYPE="RelWithDebInfo"
SANITIZE="$(sed -n 's/^LATCHKEY_SANITIZE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)"
case "$SANITIZE" in ON|on|1|TRUE|true) log "warning: $BUILD_DIR is a sanitizer build; figures are not representative" ;; esac

# ---------------------------------------------------------------------------------------------------------------
# 2. Data directory, configuration, server
mkdir -p "$OUT_DIR"
SERVER_PID=""
DATA_DIRS=()   # one per server started (registration, relay)
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  local d
  for d in "${DATA_DIRS[@]}"; do
    if [ "$KEEP_DATA" = 1 ]; then log "data kept in $d"; else rm -rf "$d"; fi
  done
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------------------------
# Measurement helpers (all from /proc; no sysstat needed)
CLK_TCK="$(getconf CLK_TCK)"
# CPU ticks (user+system) of a process; the command name may hold spaces, so fields are read after the last ')'.
proc_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# Per-thread ticks as "tid name ticks" lines.
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    [ -r "$t/stat" ] || continue
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm" 2>/dev/null)" \
      "$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "$t/stat" 2>/dev/null || echo 0)"
  done
}
# Stops the script if the server died (a crash during a run), with its exit status and log.
check_server_alive() {
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    local st=0
    wait "$SERVER_PID" || st=$?
    SERVER_PID=""
    log "latchkeyd died (at the $1 run; exit status $st$([ "$st" -gt 128 ] && echo ", signal $((st - 128))"))"
    log "server log tail:"; tail -n 20 "$DATA/server.log" | cut -c1-400 >&2
    [ -s "$OUT_DIR/loadgen-$1.json" ] && log "load generator result: $OUT_DIR/loadgen-$1.json"
    exit 1
  fi
}
# Whole-machine busy and total jiffies.
system_ticks() { awk '/^cpu /{ busy = $2 + $3 + $4 + $7 + $8 + $9; total = busy + $5 + $6; print busy, total }' /proc/stat; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

STATUS=0
if [ "$RUN_REG" = 1 ]; then
# Under the build directory rather than /tmp: /tmp may be tmpfs, where fsync is free and "full" means nothing.
DATA="$(mktemp -d "$OUT_DIR/run.XXXXXX")"
DATA_DIRS+=("$DATA")

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
CONFIG="$DATA/bench.toml"
OUTBOX="$DATA/outbox.jsonl"
cat >"$CONFIG" <<EOF
# Generated by scripts/bench.sh.
[server]
listen = "127.0.0.1:$PORT"
data_dir = "$DATA"

[storage]
backend = "sqlite"
sqlite_path = "$DATA/latchkey.db"
sqlite_synchronous = "full"      # never lowered for a benchmark: every acknowledged write survives power loss

[verification]
# The gate's cost is the client's (about 2^bits SHA-256s); the server checks one SHA-256 per PATCH whatever
# the difficulty. At 16 bits, 1500 registrations/s would need ~100M hashes/s from the load generator,
# which shares this machine with the server, so the bench uses a small difficulty.
proof_of_work_bits = $POW_BITS

# The per-IP and per-prefix buckets are raised because the whole load comes from one loopback address and one
# prefix (+33). The registration runs use a fresh number per registration, so the per-number buckets do not
# matter to them; the lock run re-registers each client's number in a loop (a new session, code and check, two
# registration calls and one failed Registration Lock attempt per round), so those are raised too. Nothing
# else changes: [accounts] keeps its defaults, takeover_delay = "24h" included, and the lock run proves that a
# registration presenting the right token skips the delay (it expects 200, not 202 pending_takeover).
[limits]
session_create_per_ip = { burst = 1000000, refill = "1ms" }
code_send_per_ip = { burst = 1000000, refill = "1ms" }
code_send_per_prefix = { burst = 1000000, refill = "1ms" }
session_create_per_number = { burst = 1000000, refill = "1ms" }
code_send_per_number = { burst = 1000000, refill = "1ms" }
code_check_per_number = { burst = 1000000, refill = "1ms" }
registration_per_number = { burst = 1000000, refill = "1ms" }
registration_lock_per_number = { burst = 1000000, refill = "1ms" }

[[sms.providers]]
name = "bench-outbox"
kind = "outbox"
path = "$OUTBOX"

[sms.routing]
default = ["bench-outbox"]

[log]
level = "warn"
access_log = false
EOF

if ! "$SERVER" check-config --config "$CONFIG" >"$DATA/check-config.log" 2>&1; then
  cat "$DATA/check-config.log" >&2
  die "the bench configuration was refused by latchkeyd check-config"
fi

"$SERVER" serve --config "$CONFIG" --data-dir "$DATA" 2>"$DATA/server.log" &
SERVER_PID=$!
log "latchkeyd pid $SERVER_PID on 127.0.0.1:$PORT, data in $DATA (file system $(stat -f -c %T "$DATA"))"
for i in $(seq 1 100); do
  if curl -sf --max-time 1 "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    tail -n 30 "$DATA/server.log" >&2 || true
    SERVER_PID=""
    die "latchkeyd exited during start-up"
  fi
  [ "$i" = 100 ] && { tail -n 30 "$DATA/server.log" >&2; die "latchkeyd did not answer /health within 10 s"; }
  sleep 0.1
done


# run_load NAME RATE [LOADGEN OPTIONS...]: one load-generator run; writes $OUT_DIR/loadgen-NAME.json and $DATA/NAME.*.
run_load() {
  local name="$1" rate="$2"
  shift 2
  local s_before s_after sys_before sys_after
  check_server_alive "$name"
  s_before="$(proc_ticks "$SERVER_PID")"
  sys_before="$(system_ticks)"
  thread_ticks "$SERVER_PID" >"$DATA/$name.threads.before"
  # One top snapshot of the server's threads in the middle of the measured window.
  ( sleep "$TOP_AT"; top -b -H -n 1 -p "$SERVER_PID" >"$DATA/$name.top" 2>/dev/null || true ) &
  local top_pid=$!
  local rc=0 TIMEFORMAT='%R %U %S'
  { time "$LOADGEN" --host 127.0.0.1 --port "$PORT" --outbox "$OUTBOX" --concurrency "$CONCURRENCY" \
      --threads "$LOADGEN_THREADS" --duration "$DURATION" --warmup "$WARMUP" --rate "$rate" \
      --requests-per-connection "$REQS_PER_CONN" "$@" --json >"$OUT_DIR/loadgen-$name.json" 2>"$DATA/$name.table" ; } 2>"$DATA/$name.time" || rc=$?
  wait "$top_pid" 2>/dev/null || true
  cat "$DATA/$name.table" >&2
  check_server_alive "$name"
  s_after="$(proc_ticks "$SERVER_PID")"
  sys_after="$(system_ticks)"
  thread_ticks "$SERVER_PID" >"$DATA/$name.threads.after"
  [ -s "$OUT_DIR/loadgen-$name.json" ] || die "latchkey_loadgen produced no result (exit $rc)"
  read -r wall lg_user lg_sys <"$DATA/$name.time"
  read -r sb st <<<"$sys_before"
  read -r sa sta <<<"$sys_after"
  python3 - "$DATA/$name.threads.before" "$DATA/$name.threads.after" "$CLK_TCK" \
      "$s_before" "$s_after" "$wall" "$lg_user" "$lg_sys" "$sb" "$st" "$sa" "$sta" "$rc" \
      >"$DATA/$name.cpu.json" <<'PY'
import json, sys
before, after, tck = sys.argv[1], sys.argv[2], float(sys.argv[3])
s0, s1, wall, lu, ls, sb, st, sa, sta, rc = map(float, sys.argv[4:14])
def load(p):
    d = {}
    for line in open(p):
        parts = line.split()
        if len(parts) == 3:
            d[parts[0]] = (parts[1], float(parts[2]))
    return d
b, a = load(before), load(after)
by_name, by_thread = {}, []
for tid, (name, ticks) in a.items():
    pct = (ticks - b.get(tid, (name, 0.0))[1]) / tck / wall * 100
    by_name[name] = by_name.get(name, 0.0) + pct
    by_thread.append((pct, f"{name}/{tid}"))
by_thread.sort(reverse=True)
busy = (sa - sb) / max(sta - st, 1) * 100
print(json.dumps({
    "wall_s": round(wall, 2),
    "server_cpu_s": round((s1 - s0) / tck, 2),
    "server_cpu_percent": round((s1 - s0) / tck / wall * 100, 1),
    "server_threads_cpu_percent": {k: round(v, 1) for k, v in sorted(by_name.items(), key=lambda kv: -kv[1])},
    "server_busiest_threads_cpu_percent": {t: round(p, 1) for p, t in by_thread[:6]},
    "server_thread_count": len(a),
    "loadgen_cpu_s": round(lu + ls, 2),
    "loadgen_cpu_percent": round((lu + ls) / wall * 100, 1),
    "machine_busy_percent": round(busy, 1),
    "loadgen_exit": int(rc),
}))
PY
  log "$name: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("server CPU %s%% (100 = one core), load generator CPU %s%%, whole machine busy %s%%" % (d["server_cpu_percent"], d["loadgen_cpu_percent"], d["machine_busy_percent"]))' "$DATA/$name.cpu.json")"
}

secs() { python3 -c 'import sys,re; t=sys.argv[1]; m=re.fullmatch(r"([0-9.]+)(ms|s|m)?",t); v=float(m.group(1)); print(v*{"ms":1e-3,"s":1,"m":60,None:1}[m.group(2)])' "$1"; }
TOP_AT="$(python3 -c "print($(secs "$WARMUP") + $(secs "$DURATION") / 2)")"

# Other work on the machine (a parallel build, say) takes CPU from both server and load generator.
read -r idle_b0 idle_t0 <<<"$(system_ticks)"; sleep 1; read -r idle_b1 idle_t1 <<<"$(system_ticks)"
BUSY_BEFORE="$(python3 -c "print(round(($idle_b1 - $idle_b0) / max($idle_t1 - $idle_t0, 1) * 100, 1))")"
if python3 -c "import sys; sys.exit(0 if $BUSY_BEFORE > 15 else 1)"; then
  log "warning: the machine was ${BUSY_BEFORE}% busy before the load started (other processes); figures will be low"
fi

# ---------------------------------------------------------------------------------------------------------------
# 3. Load: maximum rate, then half of it
log "run 1: maximum rate, $CONCURRENCY clients, $DURATION after a $WARMUP warm-up (proof_of_work_bits = $POW_BITS)"
run_load max 0
MAX_RATE="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["registrations_per_second"])' "$OUT_DIR/loadgen-max.json")"
HALF_RATE="$(python3 -c "import sys; r=float(sys.argv[1]); print(max(round(r/2, 1), 1.0) if r > 0 else 0)" "$MAX_RATE")"
if [ "$HALF_RATE" = 0 ]; then
  log "run 1 completed no registration; skipping run 2"
else
  log "run 2: $HALF_RATE registrations/s (half of $MAX_RATE), for the latency figure"
  run_load half "$HALF_RATE"
fi

# The registration figures' footprint and metrics are taken here, before the lock and restore runs add to them.
VMHWM_KB="$(status_kb "$SERVER_PID" VmHWM)"
VMRSS_KB="$(status_kb "$SERVER_PID" VmRSS)"
THREADS="$(status_kb "$SERVER_PID" Threads)"
curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$DATA/metrics.txt" 2>/dev/null || : >"$DATA/metrics.txt"
DB_BYTES="$( (du -cb "$DATA"/latchkey.db* 2>/dev/null || true) | awk 'END { print $1 + 0 }')"

# ---------------------------------------------------------------------------------------------------------------
# 4. Registration Lock and backup restore, on the same server (its database now holds the accounts registered
#    above). Each client first sets up its own locked account with a backup (not timed, inside the warm-up).
rm -f "$OUT_DIR/loadgen-lock.json" "$OUT_DIR/loadgen-restore.json"
if [ "$SKIP_LOCK" != 1 ]; then
  log "run 3: locked re-registrations (--scenario lock: verification, 423, backup restore, registration with the token), maximum rate, $CONCURRENCY clients, $DURATION after a $WARMUP warm-up"
  run_load lock 0 --scenario lock
  log "run 4: backup restores with device credentials (--scenario restore), maximum rate"
  run_load restore 0 --scenario restore
fi
curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$DATA/metrics-end.txt" 2>/dev/null || : >"$DATA/metrics-end.txt"
END_VMHWM_KB="$(status_kb "$SERVER_PID" VmHWM)"

# ---------------------------------------------------------------------------------------------------------------
# 5. Shutdown

kill -TERM "$SERVER_PID"
SERVER_EXIT=0
STOP_START="$(date +%s.%N)"
wait "$SERVER_PID" || SERVER_EXIT=$?
STOP_S="$(python3 -c "import time; print(round(time.time() - $STOP_START, 2))")"
SERVER_PID=""
if [ "$SERVER_EXIT" != 0 ]; then
  log "warning: latchkeyd exited $SERVER_EXIT after SIGTERM"
fi
if [ -s "$DATA/server.log" ]; then
  log "server log (warn and above): $(wc -l <"$DATA/server.log") lines; first ones:"
  head -n 5 "$DATA/server.log" | cut -c1-300 >&2
fi

# ---------------------------------------------------------------------------------------------------------------
# 6. Micro-benchmarks (after the server is stopped, so that they have the machine)
MICRO_JSON="$OUT_DIR/micro_bench.json"
rm -f "$MICRO_JSON"
if [ "$SKIP_MICRO" != 1 ] && [ -x "$MICRO" ]; then
  log "micro-benchmarks"
  "$MICRO" --benchmark_min_time=0.2 --benchmark_out="$MICRO_JSON" --benchmark_out_format=json >&2 ||
    log "warning: latchkey_micro_bench failed"
fi

# ---------------------------------------------------------------------------------------------------------------
# Summary
SUMMARY="$OUT_DIR/registration.json"
export B_BUILD_TYPE="$BUILD_TYPE" B_DURATION="$DURATION" B_WARMUP="$WARMUP" B_CONCURRENCY="$CONCURRENCY" \
  B_LOADGEN_THREADS="$LOADGEN_THREADS" B_POW_BITS="$POW_BITS" B_HALF_RATE="$HALF_RATE" B_VMHWM_KB="${VMHWM_KB:-0}" \
  B_VMRSS_KB="${VMRSS_KB:-0}" B_THREADS="${THREADS:-0}" B_DB_BYTES="${DB_BYTES:-0}" B_SERVER_EXIT="$SERVER_EXIT" \
  B_STOP_S="$STOP_S" B_BUSY_BEFORE="$BUSY_BEFORE" B_REQS_PER_CONN="$REQS_PER_CONN" B_END_VMHWM_KB="${END_VMHWM_KB:-0}"
python3 - "$OUT_DIR" "$DATA" "$SUMMARY" "$ROOT/scripts" <<'PY'
import json, os, re, subprocess, sys, time
sys.path.insert(0, sys.argv[4])
from prometheus_text import metric_sum
out_dir, data, summary_path = sys.argv[1:4]
E = os.environ

def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

metrics = open(os.path.join(data, "metrics.txt")).read()
try:
    metrics_end = open(os.path.join(data, "metrics-end.txt")).read()
except OSError:
    metrics_end = ""
runs = {}
for name in ("max", "half", "lock", "restore"):
    lg = load(os.path.join(out_dir, f"loadgen-{name}.json"))
    if lg is None:
        continue
    runs[name] = {"loadgen": lg, "resources": load(os.path.join(data, f"{name}.cpu.json"))}

micro = []
m = load(os.path.join(out_dir, "micro_bench.json"))
if m:
    for b in m.get("benchmarks", []):
        e = {"name": b["name"], "cpu_time": round(b["cpu_time"], 3), "time_unit": b.get("time_unit", "ns")}
        for k in ("items_per_second", "hashes_per_s", "hashes_per_solve"):
            if k in b:
                e[k] = round(b[k], 1)
        micro.append(e)

try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    commit = ""
cpu_model = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu_model = line.split(":", 1)[1].strip()
        break

def step(run, s, k):
    try:
        return runs[run]["loadgen"]["steps"][s][k]
    except (KeyError, TypeError):
        return None

LOCK_STEPS = ("session", "pow", "code_send", "verify", "register_423", "restore", "register_with_lock", "flow")
RESTORE_STEPS = ("restore",)

def scenario_summary(name, steps, run_label):
    if name not in runs:
        return None
    lg, res = runs[name]["loadgen"], runs[name]["resources"] or {}
    return {
        "command": f"latchkey_loadgen --scenario {name} --concurrency {E['B_CONCURRENCY']} --rate 0 "
                   f"--duration {E['B_DURATION']} --warmup {E['B_WARMUP']} ({run_label} of scripts/bench.sh)",
        "unit": lg.get("unit"),
        "per_second": lg.get("per_second"),
        "completed": lg.get("completed"),
        "errors": lg.get("errors"),
        "warmup_errors": lg.get("warmup_errors"),
        "server_cpu_percent": res.get("server_cpu_percent"),
        "loadgen_cpu_percent": res.get("loadgen_cpu_percent"),
        "machine_busy_percent": res.get("machine_busy_percent"),
        "p50_ms": {s: step(name, s, "p50_ms") for s in steps},
        "p99_ms": {s: step(name, s, "p99_ms") for s in steps},
    }

def delta(family, **labels):
    if not metrics_end.strip() or not metrics.strip():
        return None
    return metric_sum(metrics_end, family, **labels) - metric_sum(metrics, family, **labels)

summary = {
    "benchmark": "registration",
    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": commit,
    "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model},
    "build_type": E["B_BUILD_TYPE"],
    "command": "scripts/bench.sh",
    "settings": {
        "duration": E["B_DURATION"], "warmup": E["B_WARMUP"], "concurrency": int(E["B_CONCURRENCY"]),
        "loadgen_threads": int(E["B_LOADGEN_THREADS"]), "sqlite_synchronous": "full",
        "requests_per_connection": int(E["B_REQS_PER_CONN"]),
        "proof_of_work_bits": int(E["B_POW_BITS"]),
        "machine_busy_before_percent": float(E["B_BUSY_BEFORE"]),
        "data_file_system": subprocess.run(["stat", "-f", "-c", "%T", data], capture_output=True, text=True).stdout.strip(),
    },
    "notes": [
        "Load generator and server share this machine's CPUs; compare figures measured in the same run.",
        "proof_of_work_bits is small because the gate's cost is the client's (~2^bits SHA-256 per session); "
        "the server verifies one SHA-256 per PATCH regardless of difficulty. At 16 bits, 1500 registrations/s "
        "would need ~100M hashes/s from the load generator.",
        "Latency percentiles come from the half-rate run (paced, below saturation); the max-rate run measures "
        "throughput and its latencies include queueing.",
        "lock and restore run at the maximum rate on the same server after the registration runs (its database "
        "holds their accounts); their latencies include queueing. A lock iteration is one locked re-registration: "
        "a new verification of the number, 423, backup restore with the 423's credentials, registration with the "
        "token (takeover_delay stays 24h: the token skips it). restore loops POST /v1/backup/restore with "
        "device credentials.",
    ],
    "max_rate": {
        "registrations_per_second": runs.get("max", {}).get("loadgen", {}).get("registrations_per_second"),
        "errors": runs.get("max", {}).get("loadgen", {}).get("errors"),
    },
    "half_rate": {
        "target_per_second": float(E["B_HALF_RATE"]),
        "registrations_per_second": runs.get("half", {}).get("loadgen", {}).get("registrations_per_second"),
        "errors": runs.get("half", {}).get("loadgen", {}).get("errors"),
        "p99_ms": {s: step("half", s, "p99_ms") for s in ("session", "pow", "code_send", "verify", "register", "flow")},
        "p50_ms": {s: step("half", s, "p50_ms") for s in ("session", "pow", "code_send", "verify", "register", "flow")},
    },
    "server": {
        "peak_rss_kb": int(E["B_VMHWM_KB"] or 0),
        "rss_at_end_kb": int(E["B_VMRSS_KB"] or 0),
        "threads": int(E["B_THREADS"] or 0),
        "db_bytes": int(E["B_DB_BYTES"] or 0),
        "sigterm_exit": int(E["B_SERVER_EXIT"]),
        "sigterm_stop_s": float(E["B_STOP_S"]),
        "metrics": {
            "registrations_total": metric_sum(metrics, "latchkey_registrations_total"),
            "sms_sent_total": metric_sum(metrics, "latchkey_sms_sent_total", outcome="sent"),
            "sms_not_sent_total": metric_sum(metrics, "latchkey_sms_sent_total", outcome="(?!sent$).*"),
            "limiter_rejections_total": metric_sum(metrics, "latchkey_limiter_rejections_total"),
            "http_5xx_total": metric_sum(metrics, "latchkey_http_requests_total", status="5.."),
            "http_4xx_total": metric_sum(metrics, "latchkey_http_requests_total", status="4.."),
        } if metrics.strip() else None,
    },
    "lock": scenario_summary("lock", LOCK_STEPS, "run 3"),
    "restore": scenario_summary("restore", RESTORE_STEPS, "run 4"),
    "lock_restore_server": {
        "peak_rss_kb_at_end": int(E["B_END_VMHWM_KB"] or 0),
        # Counted over the lock and restore runs only (metrics at the end minus metrics after the registration runs).
        "metrics": {
            "registration_lock_failures_total": delta("latchkey_registration_lock_failures_total"),
            "reregistrations_total": delta("latchkey_registrations_total", kind="reregistration"),
            "backup_restores_total": delta("latchkey_backup_restores_total", outcome="restored"),
            "backup_pin_mismatches_total": delta("latchkey_backup_restores_total", outcome="pin_mismatch|erased"),
            "takeovers_pending_total": delta("latchkey_takeovers_total", outcome="pending"),
            "limiter_rejections_total": delta("latchkey_limiter_rejections_total"),
            "http_5xx_total": delta("latchkey_http_requests_total", status="5.."),
        } if metrics_end.strip() else None,
    },
    "runs": runs,
    "micro": micro,
}
with open(summary_path, "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")

# Human summary.
def fmt(v, unit=""):
    return "-" if v is None else f"{v}{unit}"
print()
print("=== latchkey registration benchmark ===")
print(f"machine: {os.cpu_count()} CPUs ({cpu_model}), build {summary['build_type'] or '?'}, commit {commit or '?'}")
print(f"settings: sqlite_synchronous=full, proof_of_work_bits={summary['settings']['proof_of_work_bits']}, "
      f"{summary['settings']['concurrency']} clients, {summary['settings']['duration']} measured, "
      f"data on {summary['settings']['data_file_system']}, machine {summary['settings']['machine_busy_before_percent']}% busy before the load")
for name, label in (("max", "max rate"), ("half", "half rate")):
    if name not in runs:
        continue
    lg, res = runs[name]["loadgen"], runs[name]["resources"] or {}
    print(f"{label:>9}: {lg['registrations_per_second']:.1f} registrations/s, errors {lg['errors']}, "
          f"server CPU {fmt(res.get('server_cpu_percent'), '%')}, load generator CPU {fmt(res.get('loadgen_cpu_percent'), '%')}, "
          f"machine busy {fmt(res.get('machine_busy_percent'), '%')}")
    print(f"{'':>9}  {'step':<10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for s in ("session", "pow", "code_send", "verify", "register", "flow"):
        st = lg["steps"].get(s, {})
        if st.get("count"):
            print(f"{'':>9}  {s:<10}{st['p50_ms']:>9.2f}{st['p90_ms']:>9.2f}{st['p99_ms']:>9.2f}{st['max_ms']:>9.2f}")
    if res.get("server_threads_cpu_percent"):
        busy = ", ".join(f"{k} {v}%" for k, v in list(res["server_threads_cpu_percent"].items())[:6])
        print(f"{'':>9}  server CPU by thread name: {busy}")
    if res.get("server_busiest_threads_cpu_percent"):
        busy = ", ".join(f"{k} {v}%" for k, v in res["server_busiest_threads_cpu_percent"].items())
        print(f"{'':>9}  busiest server threads: {busy}")
for name, label, unit, steps in (("lock", "lock", "locked re-registrations/s", LOCK_STEPS),
                                 ("restore", "restore", "backup restores/s", RESTORE_STEPS)):
    if name not in runs:
        continue
    lg, res = runs[name]["loadgen"], runs[name]["resources"] or {}
    print(f"{label:>9}: {lg.get('per_second', 0):.1f} {unit} (max rate), errors {lg['errors']} "
          f"(warm-up {lg['warmup_errors']}), server CPU {fmt(res.get('server_cpu_percent'), '%')}, "
          f"load generator CPU {fmt(res.get('loadgen_cpu_percent'), '%')}, machine busy {fmt(res.get('machine_busy_percent'), '%')}")
    print(f"{'':>9}  {'step':<19}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for s in steps:
        st = lg["steps"].get(s, {})
        if st.get("count"):
            print(f"{'':>9}  {s:<19}{st['p50_ms']:>9.2f}{st['p90_ms']:>9.2f}{st['p99_ms']:>9.2f}{st['max_ms']:>9.2f}")
lm = summary["lock_restore_server"]["metrics"]
if ("lock" in runs or "restore" in runs) and lm:
    print(f"{'':>9}  server metrics over these runs: lock failures (423) {lm['registration_lock_failures_total']:.0f}, "
          f"re-registrations {lm['reregistrations_total']:.0f}, backups restored {lm['backup_restores_total']:.0f}, "
          f"PIN mismatches {lm['backup_pin_mismatches_total']:.0f}, takeovers delayed {lm['takeovers_pending_total']:.0f}, "
          f"limiter rejections {lm['limiter_rejections_total']:.0f}, 5xx {lm['http_5xx_total']:.0f}")
srv = summary["server"]
print(f"server: peak RSS {srv['peak_rss_kb'] / 1024:.1f} MiB, {srv['threads']} threads, database {srv['db_bytes'] / 1e6:.1f} MB, "
      f"SIGTERM -> exit {srv['sigterm_exit']} in {srv['sigterm_stop_s']} s")
if srv["metrics"]:
    mt = srv["metrics"]
    print(f"server metrics: registrations {mt['registrations_total']:.0f}, SMS sent {mt['sms_sent_total']:.0f}, "
          f"limiter rejections {mt['limiter_rejections_total']:.0f}, 4xx {mt['http_4xx_total']:.0f}, 5xx {mt['http_5xx_total']:.0f}")
for e in micro:
    extra = ", ".join(f"{k} {v}" for k, v in e.items() if k not in ("name", "cpu_time", "time_unit"))
    print(f"micro: {e['name']:<28} {e['cpu_time']:>12} {e['time_unit']}  {extra}")
print(f"written to {summary_path}")
PY

for name in max half lock restore; do
  f="$OUT_DIR/loadgen-$name.json"
  [ -f "$f" ] || { case "$name" in half) STATUS=1 ;; lock|restore) [ "$SKIP_LOCK" = 1 ] || STATUS=1 ;; esac; continue; }
  errs="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["errors"] + d["warmup_errors"])' "$f")"
  [ "$errs" = 0 ] || { log "run $name had $errs errors"; STATUS=1; }
done
[ "$SERVER_EXIT" = 0 ] || STATUS=1
fi  # RUN_REG

# ---------------------------------------------------------------------------------------------------------------
# 7. Message relay (latchkey_relay_loadgen) on a fresh server with its own data folder and configuration.
if [ "$RUN_RELAY" = 1 ]; then
R_DURATION="${BENCH_RELAY_DURATION:-10s}"
R_WARMUP="${BENCH_RELAY_WARMUP:-2s}"
R_RECIPIENTS="${BENCH_RELAY_RECIPIENTS:-64}"
R_DEVICES="${BENCH_RELAY_DEVICES:-1}"
R_SENDERS="${BENCH_RELAY_SENDERS:-48}"
R_WS_WINDOW="${BENCH_RELAY_WS_WINDOW:-32}"
R_CONNECTIONS="${BENCH_RELAY_CONNECTIONS:-10000}"
R_IDLE_DEVICES="${BENCH_RELAY_IDLE_DEVICES:-6}"
# One load-generator thread per CPU: with one thread, a burst of envelopes arriving delays the sends that fall due
# meanwhile (docs/performance.md, 2026-12-05 fourth session).
R_THREADS="${BENCH_RELAY_LOADGEN_THREADS:-$(nproc)}"
R_STEADY="${BENCH_RELAY_STEADY_RATE:-1000}"
# Before each run the load generator times a loopback ping-pong (--machine-check): the machine's speed drifts, and
# this says how fast it was during that run. "0" turns it off.
R_MACHINE_CHECK="${BENCH_RELAY_MACHINE_CHECK:-0.5s}"
R_SCENARIOS="${BENCH_RELAY_SCENARIOS:-idle,online-http,online-ws,paced,offline}"
has_scenario() { case ",$R_SCENARIOS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

DATA="$(mktemp -d "$OUT_DIR/relay.XXXXXX")"
DATA_DIRS+=("$DATA")
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
CONFIG="$DATA/relay.toml"
OUTBOX="$DATA/outbox.jsonl"
cat >"$CONFIG" <<EOF
# Generated by scripts/bench.sh (message relay).
[server]
listen = "127.0.0.1:$PORT"
data_dir = "$DATA"
# The idle run holds $R_CONNECTIONS sockets; senders and set-up connections come on top.
max_connections = $((R_CONNECTIONS + 2000))
${BENCH_RELAY_SERVER_EXTRA:-}

[storage]
backend = "sqlite"
sqlite_path = "$DATA/latchkey.db"
sqlite_synchronous = "full"      # never lowered for a benchmark: every acknowledged send is on disk before its 200
${BENCH_RELAY_STORAGE_EXTRA:-}

[verification]
proof_of_work_bits = $POW_BITS   # accounts are registered before the timed part; see the registration notes

# One load-generator address and prefix, and a few senders each sending thousands of envelopes a second: the
# per-IP, per-prefix and per-sender buckets are raised. Nothing else changes.
[limits]
session_create_per_ip = { burst = 1000000, refill = "1ms" }
code_send_per_ip = { burst = 1000000, refill = "1ms" }
code_send_per_prefix = { burst = 1000000, refill = "1ms" }
messages_per_sender = { burst = 1000000, refill = "1ms" }
device_link_per_ip = { burst = 1000000, refill = "1ms" }
provisioning_per_account = { burst = 1000000, refill = "1ms" }
keys_upload_per_device = { burst = 1000000, refill = "1ms" }
prekey_lookup_per_requester = { burst = 1000000, refill = "1ms" }
directory_per_requester = { burst = 1000000, refill = "1ms" }
directory_per_target = { burst = 1000000, refill = "1ms" }

[[sms.providers]]
name = "bench-outbox"
kind = "outbox"
path = "$OUTBOX"

[sms.routing]
default = ["bench-outbox"]

[log]
level = "warn"
access_log = false
EOF

if ! "$SERVER" check-config --config "$CONFIG" >"$DATA/check-config.log" 2>&1; then
  cat "$DATA/check-config.log" >&2
  die "the relay bench configuration was refused by latchkeyd check-config (a [limits] key the server does not know yet?)"
fi
# The idle run needs more descriptors than the usual soft limit: raise it (for the server; the load generator
# raises its own).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt "$((R_CONNECTIONS + 2100))" ] ||
  log "warning: the descriptor limit ($(ulimit -n)) is below the $R_CONNECTIONS idle sockets plus margin"

"$SERVER" serve --config "$CONFIG" --data-dir "$DATA" 2>"$DATA/server.log" &
SERVER_PID=$!
log "relay: latchkeyd pid $SERVER_PID on 127.0.0.1:$PORT, data in $DATA (file system $(stat -f -c %T "$DATA"))"
for i in $(seq 1 100); do
  if curl -sf --max-time 1 "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    tail -n 30 "$DATA/server.log" >&2 || true
    SERVER_PID=""
    die "latchkeyd exited during start-up"
  fi
  [ "$i" = 100 ] && { tail -n 30 "$DATA/server.log" >&2; die "latchkeyd did not answer /health within 10 s"; }
  sleep 0.1
done

read -r idle_b0 idle_t0 <<<"$(system_ticks)"; sleep 1; read -r idle_b1 idle_t1 <<<"$(system_ticks)"
R_BUSY_BEFORE="$(python3 -c "print(round(($idle_b1 - $idle_b0) / max($idle_t1 - $idle_t0, 1) * 100, 1))")"
if python3 -c "import sys; sys.exit(0 if $R_BUSY_BEFORE > 15 else 1)"; then
  log "warning: the machine was ${R_BUSY_BEFORE}% busy before the relay runs (other processes); figures will be low"
fi

# relay_run NAME [LOADGEN OPTIONS...]: one relay load-generator run; writes $OUT_DIR/relay-NAME.json. The load
# generator reads the server's CPU by thread itself (--server-pid), over the measured window only.
RELAY_FAILED=""
relay_run() {
  local name="$1"
  shift
  local rc=0
  check_server_alive "relay-$name"
  # The server's storage histograms before and after (the summary reports the run's share: set-up included).
  curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$DATA/metrics-$name-before.txt" 2>/dev/null || :
  "$RELAY_LOADGEN" --host 127.0.0.1 --port "$PORT" --outbox "$OUTBOX" --server-pid "$SERVER_PID" \
    --threads "$R_THREADS" --machine-check "$R_MACHINE_CHECK" "$@" --json >"$OUT_DIR/relay-$name.json" 2>"$DATA/relay-$name.log" || rc=$?
  cat "$DATA/relay-$name.log" >&2
  check_server_alive "relay-$name"
  curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$DATA/metrics-$name-after.txt" 2>/dev/null || :
  [ -s "$OUT_DIR/relay-$name.json" ] || die "latchkey_relay_loadgen produced no result for $name (exit $rc)"
  [ "$rc" = 0 ] || { log "relay run $name failed (exit $rc)"; RELAY_FAILED="$RELAY_FAILED $name"; }
}
rm -f "$OUT_DIR"/relay-*.json
COMMON=(--recipients "$R_RECIPIENTS" --devices "$R_DEVICES" --senders "$R_SENDERS" --duration "$R_DURATION"
        --warmup "$R_WARMUP")

# Idle sockets first, on the fresh server: its heap has not yet grown and shrunk under the other runs.
if has_scenario idle; then
  log "relay run idle: $R_CONNECTIONS authenticated sockets ($R_IDLE_DEVICES devices per account), server RSS before and after"
  relay_run idle --scenario idle --connections "$R_CONNECTIONS" --idle-devices "$R_IDLE_DEVICES" --hold 3s
fi
if has_scenario online-http; then
  log "relay run online-http-max: PUT /v1/messages, $R_SENDERS senders -> $R_RECIPIENTS recipients x $R_DEVICES device(s), maximum rate"
  relay_run online-http-max --scenario online --send-via http --rate 0 "${COMMON[@]}"
fi
if has_scenario online-ws; then
  log "relay run online-ws-max: send frames ($R_WS_WINDOW in flight per socket), maximum rate"
  relay_run online-ws-max --scenario online --send-via ws --ws-window "$R_WS_WINDOW" --rate 0 "${COMMON[@]}"
fi
sends_per_s() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["online"]["sends_per_second"])' "$1" 2>/dev/null || echo 0; }
if has_scenario paced; then
  for via in http ws; do
    if [ -f "$OUT_DIR/relay-online-$via-max.json" ]; then
      half="$(python3 -c "print(round(float('$(sends_per_s "$OUT_DIR/relay-online-$via-max.json")') / 2, 1))")"
    elif [ "$via" = ws ] && [ -n "${BENCH_RELAY_HALF_RATE:-}" ]; then
      half="$BENCH_RELAY_HALF_RATE"
    else
      continue
    fi
    log "relay run online-$via-steady: $R_STEADY sends/s, open loop"
    relay_run "online-$via-steady" --scenario online --send-via "$via" --ws-window "$R_WS_WINDOW" --rate "$R_STEADY" "${COMMON[@]}"
    if python3 -c "import sys; sys.exit(0 if $half >= 1 else 1)"; then
      log "relay run online-$via-half: $half sends/s (half of the maximum), open loop"
      relay_run "online-$via-half" --scenario online --send-via "$via" --ws-window "$R_WS_WINDOW" --rate "$half" "${COMMON[@]}"
    fi
  done
fi
if has_scenario offline; then
  log "relay run offline: PUT /v1/messages to offline recipients for $R_DURATION, then every recipient device drains"
  relay_run offline --scenario offline --send-via http --rate 0 "${COMMON[@]}"
fi

R_VMHWM_KB="$(status_kb "$SERVER_PID" VmHWM)"
curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$DATA/metrics-relay.txt" 2>/dev/null || : >"$DATA/metrics-relay.txt"
R_DB_BYTES="$( (du -cb "$DATA"/latchkey.db* 2>/dev/null || true) | awk 'END { print $1 + 0 }')"
kill -TERM "$SERVER_PID"
R_SERVER_EXIT=0
wait "$SERVER_PID" || R_SERVER_EXIT=$?
SERVER_PID=""
[ "$R_SERVER_EXIT" = 0 ] || log "warning: latchkeyd (relay) exited $R_SERVER_EXIT after SIGTERM"
if [ -s "$DATA/server.log" ]; then
  log "relay server log (warn and above): $(wc -l <"$DATA/server.log") lines; first ones:"
  head -n 5 "$DATA/server.log" | cut -c1-300 >&2
fi

export R_BUILD_TYPE="$BUILD_TYPE" R_BUSY_BEFORE R_VMHWM_KB R_DB_BYTES R_SERVER_EXIT R_POW_BITS="$POW_BITS" \
  R_THREADS R_DURATION R_WARMUP R_RECIPIENTS R_DEVICES R_SENDERS R_WS_WINDOW R_CONNECTIONS R_IDLE_DEVICES R_STEADY
python3 - "$OUT_DIR" "$DATA" "$OUT_DIR/relay.json" "$ROOT/scripts" <<'PY'
import json, os, subprocess, sys, time
sys.path.insert(0, sys.argv[4])
from prometheus_text import histogram
out_dir, data, summary_path = sys.argv[1:4]
E = os.environ

def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

runs = {}
for name in ("idle", "online-http-max", "online-ws-max", "online-http-steady", "online-http-half",
             "online-ws-steady", "online-ws-half", "offline"):
    r = load(os.path.join(out_dir, f"relay-{name}.json"))
    if r is not None:
        runs[name] = r
cpu_model = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu_model = line.split(":", 1)[1].strip()
        break
try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    commit = ""

def storage(name):
    """The writer's histograms over one run (after minus before): where a send's time went in storage. Bucket
    bounds, so a percentile reads 'at most'; the run's set-up and warm-up are included."""
    try:
        before = open(os.path.join(data, f"metrics-{name}-before.txt")).read()
        after = open(os.path.join(data, f"metrics-{name}-after.txt")).read()
    except OSError:
        return None
    out = {}
    for key, family in (("durable_write", "latchkey_storage_durable_write_seconds"),
                        ("wal_sync", "latchkey_storage_wal_sync_seconds"),
                        ("writes_per_commit", "latchkey_storage_write_batch_writes")):
        b0, s0, c0 = histogram(before, family)
        b1, s1, c1 = histogram(after, family)
        n = c1 - c0
        if not b1 or n <= 0:
            continue
        rows = sorted((le, c - b0.get(le, 0.0)) for le, c in b1.items())
        at_most = lambda q: next((le for le, c in rows if c >= q * n), None)
        scale = 1 if key == "writes_per_commit" else 1000  # seconds -> ms
        bound = lambda le: None if le is None or le == float("inf") else round(le * scale, 3)
        out[key] = {"count": int(n), "mean": round((s1 - s0) / n * scale, 3),
                    "p50_at_most": bound(at_most(0.5)), "p99_at_most": bound(at_most(0.99))}
    return out or None

def online(name):
    r = runs.get(name, {}).get("online")
    if not r:
        return None
    return {
        "send_via": r["send_via"], "rate_target": r["rate_target"],
        "sends_per_second": r["sends_per_second"], "envelopes_per_second": r["envelopes_per_second"],
        "delivery_p50_ms": r["delivery_latency"]["p50_ms"], "delivery_p99_ms": r["delivery_latency"]["p99_ms"],
        "delivery_max_ms": r["delivery_latency"]["max_ms"],
        "send_p50_ms": r["send_latency"]["p50_ms"], "send_p99_ms": r["send_latency"]["p99_ms"],
        "envelopes_missing": r["envelopes_missing"], "send_errors": r["send_errors"], "late_sends": r["late_sends"],
        "ok": runs[name].get("ok"), "resources": r.get("resources"),
        "machine_check": runs[name].get("machine_check"), "storage": storage(name),
        # Paced runs: how late the load generator started its sends (included in the latencies above).
        "pacing_lag_p50_ms": (r.get("start_lag") or {}).get("p50_ms"),
        "pacing_lag_p99_ms": (r.get("start_lag") or {}).get("p99_ms"),
    }

summary = {
    "benchmark": "relay",
    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": commit,
    "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model},
    "build_type": E["R_BUILD_TYPE"],
    "command": "scripts/bench.sh (BENCH_ONLY=relay for this part alone)",
    "settings": {
        "sqlite_synchronous": "full", "proof_of_work_bits": int(E["R_POW_BITS"]),
        "duration": E["R_DURATION"], "warmup": E["R_WARMUP"], "recipients": int(E["R_RECIPIENTS"]),
        "devices_per_recipient": int(E["R_DEVICES"]), "senders": int(E["R_SENDERS"]),
        "ws_window": int(E["R_WS_WINDOW"]), "idle_connections": int(E["R_CONNECTIONS"]),
        "idle_devices_per_account": int(E["R_IDLE_DEVICES"]), "loadgen_threads": int(E["R_THREADS"]),
        "steady_rate": float(E["R_STEADY"]), "content_bytes": 1024,
        "machine_busy_before_percent": float(E["R_BUSY_BEFORE"]),
        "data_file_system": subprocess.run(["stat", "-f", "-c", "%T", data], capture_output=True, text=True).stdout.strip(),
    },
    "online": {n: online(n) for n in ("online-http-max", "online-ws-max", "online-http-steady", "online-http-half",
                                      "online-ws-steady", "online-ws-half") if online(n)},
    "offline": None,
    "idle": runs.get("idle", {}).get("idle"),
    "server": {"peak_rss_kb": int(E["R_VMHWM_KB"] or 0), "db_bytes": int(E["R_DB_BYTES"] or 0),
               "sigterm_exit": int(E["R_SERVER_EXIT"])},
    "runs": runs,
}
off = runs.get("offline", {}).get("offline")
if off:
    summary["offline"] = {
        "store_envelopes_per_second": off["store_envelopes_per_second"], "stored_envelopes": off["stored_envelopes"],
        "store_send_p99_ms": off["send_latency"]["p99_ms"],
        "drain_envelopes_per_second": off["drain_envelopes_per_second"], "drained_envelopes": off["drained_envelopes"],
        "drain_s": off["drain_s"], "left_after_ack": off["left_after_ack"], "ok": runs["offline"].get("ok"),
        "store_resources": off.get("store_resources"), "drain_resources": off.get("drain_resources"),
        "machine_check": runs["offline"].get("machine_check"), "storage": storage("offline"),
    }
with open(summary_path, "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")

def cpu(res):
    if not res or "server_cpu_percent" not in res:
        return ""
    threads = ", ".join(f"{n} {p}%" for n, p in res.get("server_threads_cpu_percent", [])[:5])
    return (f"server {res['server_cpu_percent']}% ({threads}); load generator {res.get('loadgen_cpu_percent')}%; "
            f"machine {res.get('machine_busy_percent')}%")

def check(c):
    if not c:
        return ""
    if "error" in c:
        return f"machine check failed: {c['error']}"
    compute = ""
    if c.get("sha256_1k_ns"):
        compute = f"; SHA-256 of 1 KiB {c['sha256_1k_ns']:.0f} ns, SQLite 1 KiB insert {c.get('sqlite_insert_us')} us"
    return (f"machine check before the run: loopback ping-pong {c['round_trips_per_second']:.0f} round trips/s, "
            f"p50 {c['rtt_p50_us']} us, p99 {c['rtt_p99_us']} us{compute}")

def storage_line(st):
    if not st:
        return ""
    at_most = lambda v: f"<= {v} ms" if v is not None else "above the largest bucket"
    parts = []
    if "durable_write" in st:
        d = st["durable_write"]
        parts.append(f"durable write (queued -> answered) mean {d['mean']} ms, p50 {at_most(d['p50_at_most'])}, "
                     f"p99 {at_most(d['p99_at_most'])}")
    if "wal_sync" in st:
        w = st["wal_sync"]
        parts.append(f"{w['count']} log syncs, mean {w['mean']} ms, p99 {at_most(w['p99_at_most'])}")
    if "writes_per_commit" in st:
        parts.append(f"{st['writes_per_commit']['mean']:.1f} writes per commit")
    return "storage over the run: " + "; ".join(parts)

s = summary["settings"]
print()
print("=== latchkey message relay benchmark ===")
print(f"machine: {os.cpu_count()} CPUs ({cpu_model}), build {summary['build_type'] or '?'}, commit {commit or '?'}")
print(f"settings: sqlite_synchronous=full, {s['content_bytes']}-byte envelopes, {s['senders']} senders -> "
      f"{s['recipients']} recipients x {s['devices_per_recipient']} device(s), {s['duration']} measured after "
      f"{s['warmup']}, load generator {s['loadgen_threads']} thread(s), data on {s['data_file_system']}, machine {s['machine_busy_before_percent']}% busy before")
print(f"{'online run':<20}{'sends/s':>10}{'envelopes/s':>13}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'missing':>9}{'errors':>8}")
for n, r in summary["online"].items():
    print(f"{n:<20}{r['sends_per_second']:>10.0f}{r['envelopes_per_second']:>13.0f}{r['delivery_p50_ms']:>9.3f}"
          f"{r['delivery_p99_ms']:>9.3f}{r['delivery_max_ms']:>9.3f}{r['envelopes_missing']:>9}{r['send_errors']:>8}")
    if cpu(r["resources"]):
        print(f"{'':<20}{cpu(r['resources'])}")
    if check(r.get("machine_check")):
        print(f"{'':<20}{check(r['machine_check'])}")
    if storage_line(r.get("storage")):
        print(f"{'':<20}{storage_line(r['storage'])}")
    if r.get("pacing_lag_p99_ms") is not None:
        print(f"{'':<20}load generator's lateness (due -> send started, counted in the latency): "
              f"p50 {r['pacing_lag_p50_ms']} ms, p99 {r['pacing_lag_p99_ms']} ms")
o = summary["offline"]
if o:
    print(f"offline: store {o['store_envelopes_per_second']:.0f} envelopes/s (p99 send {o['store_send_p99_ms']} ms), "
          f"drain {o['drained_envelopes']} envelopes in {o['drain_s']} s = {o['drain_envelopes_per_second']:.0f}/s, "
          f"left after ack {o['left_after_ack']}")
    if cpu(o["store_resources"]):
        print(f"         store: {cpu(o['store_resources'])}")
    if cpu(o["drain_resources"]):
        print(f"         drain: {cpu(o['drain_resources'])}")
    if check(o.get("machine_check")):
        print(f"         {check(o['machine_check'])}")
    if storage_line(o.get("storage")):
        print(f"         {storage_line(o['storage'])}")
i = summary["idle"]
if i:
    per = i.get("server_bytes_per_connection")
    print(f"idle: {i['open_after_hold']} of {i['connections']} sockets open; server RSS {i.get('server_rss_before_kb')} -> "
          f"{i.get('server_rss_after_kb')} KiB = {per / 1024 if per is not None else float('nan'):.2f} KiB per socket "
          f"(second half alone {i.get('server_bytes_per_connection_second_half', 0) / 1024:.2f} KiB); threads "
          f"{i.get('server_threads_before')} -> {i.get('server_threads_after')}; load generator "
          f"{i['loadgen_bytes_per_connection'] / 1024:.2f} KiB per socket, {i['loadgen_cpu_connect_s']} s CPU to connect "
          f"({i['connects_per_second']:.0f} sockets/s)")
srv = summary["server"]
print(f"server: peak RSS {srv['peak_rss_kb'] / 1024:.1f} MiB, database {srv['db_bytes'] / 1e6:.1f} MB, "
      f"SIGTERM -> exit {srv['sigterm_exit']}")
print(f"written to {summary_path}")
PY
[ -z "$RELAY_FAILED" ] || { log "relay runs with errors:$RELAY_FAILED"; STATUS=1; }
[ "$R_SERVER_EXIT" = 0 ] || STATUS=1
fi  # RUN_RELAY

# ---------------------------------------------------------------------------------------------------------------
# 8. Incident execution (bench/incident_bench.cc): 1,900 and 100,000 affected numbers among 1,000,000 accounts,
#    notifications through the Twilio provider to a fake Twilio on loopback. BENCH_INCIDENT_ACCOUNTS and
#    BENCH_INCIDENT_AFFECTED change the sizes; the generated database is kept in $OUT_DIR/incident-data.
if [ "$RUN_INCIDENT" = 1 ]; then
  INCIDENT_BENCH="$OUT_DIR/latchkey_incident_bench"
  [ -x "$INCIDENT_BENCH" ] || die "$INCIDENT_BENCH is missing"
  log "incident: ${BENCH_INCIDENT_AFFECTED:-1900,100000} affected among ${BENCH_INCIDENT_ACCOUNTS:-1000000} accounts"
  if "$INCIDENT_BENCH" --accounts "${BENCH_INCIDENT_ACCOUNTS:-1000000}" --affected "${BENCH_INCIDENT_AFFECTED:-1900,100000}" \
       --dir "$OUT_DIR/incident-data" > "$OUT_DIR/incident.out" 2> "$OUT_DIR/incident.log"; then
    grep "affected of" "$OUT_DIR/incident.out"
    sed -n '/^\[/,$p' "$OUT_DIR/incident.out" > "$OUT_DIR/incident.json"
    log "incident: summary in $OUT_DIR/incident.json"
  else
    log "incident bench failed; see $OUT_DIR/incident.log"
    STATUS=1
  fi
fi
exit "$STATUS"
