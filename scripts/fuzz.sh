#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan) and runs each for a bounded time, FUZZ_JOBS at once
# (default: one per core). Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20). Seeds: fuzz/corpus/<target>/;
# the growing corpus and any crash files go to build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
OUT=build-fuzz
mkdir -p "$OUT"
CXX=${FUZZ_CXX:-clang++}
FLAGS=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -include utility -Isrc
       -DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1)

JOBS=${FUZZ_JOBS:-$(nproc)}

# Up to JOBS commands at a time in the background, each with its output in $OUT/NAME.log; reap_all waits for them,
# prints their logs in the order they started and fails if any of them failed.
pids=()
names=()
failed=0
reap_oldest() {
  local pid=${pids[0]} name=${names[0]}
  pids=("${pids[@]:1}")
  names=("${names[@]:1}")
  if ! wait "$pid"; then
    failed=1
    echo "fuzz: $name failed"
  fi
  cat "$OUT/$name.log"
}
spawn() {
  local name=$1
  shift
  [ "${#pids[@]}" -lt "$JOBS" ] || reap_oldest
  ("$@") >"$OUT/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}
reap_all() {
  while [ "${#pids[@]}" -gt 0 ]; do reap_oldest; done
  [ "$failed" = 0 ] || exit 1
}

build() {
  local name=$1; shift
  if [ ! -x "$OUT/$name" ] || [ -n "$(find fuzz src -newer "$OUT/$name" -name '*.cc' -o -newer "$OUT/$name" -name '*.h' | head -1)" ]; then
    echo "fuzz: building $name"
    spawn "build-$name" "$CXX" "${FLAGS[@]}" "$@" -o "$OUT/$name"
  fi
}

build config_fuzzer fuzz/config_fuzzer.cc src/core/config.cc src/core/duration.cc src/core/error.cc \
  -ltomlplusplus -lfmt
build request_fuzzer fuzz/request_fuzzer.cc src/core/encoding.cc src/core/error.cc src/crypto/proof_of_work.cc \
  src/net/request_parsing.cc src/net/router.cc src/net/http_types.cc src/net/error_mapping.cc -lsodium
build phone_number_fuzzer fuzz/phone_number_fuzzer.cc src/core/phone_number.cc src/core/error.cc \
  -lphonenumber -lprotobuf
build webauthn_fuzzer fuzz/webauthn_fuzzer.cc src/webauthn/webauthn.cc src/core/encoding.cc src/core/error.cc \
  src/crypto/secret_hash.cc src/crypto/random.cc -lcbor -lcrypto -lsodium -lfmt
build message_frame_fuzzer fuzz/message_frame_fuzzer.cc src/net/message_parsing.cc src/net/request_parsing.cc \
  src/core/encoding.cc src/core/error.cc src/net/http_types.cc -lsodium

reap_all

# Each target runs for SECONDS_PER_TARGET on its own core (JOBS at a time).
run_target() {
  local target=$1 dict=()
  local work="$OUT/corpus-$target"
  mkdir -p "$work"
  cp -n fuzz/corpus/$target/* "$work"/ 2>/dev/null || true
  [ ! -f "fuzz/$target.dict" ] || dict=(-dict="$PWD/fuzz/$target.dict")
  echo "fuzz: running ${target}_fuzzer for ${SECONDS_PER_TARGET}s"
  local status=0
  (cd "$OUT" && ASAN_OPTIONS=detect_leaks=0 "./${target}_fuzzer" -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 \
    "${dict[@]}" -print_final_stats=1 "corpus-$target" >"run-$target.out" 2>&1) || status=$?
  tail -n 12 "$OUT/run-$target.out"
  return $status
}
for target in config request phone_number webauthn message_frame; do
  spawn "run-$target" run_target "$target"
done
reap_all
echo "fuzz: all targets ran without a crash"
