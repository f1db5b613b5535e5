#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a while (default 300 s each; FUZZ_SECONDS=N to change),
# starting from the seeds in fuzz/seeds/. Needs the nightly toolchain and cargo-fuzz; installs
# cargo-fuzz when missing. Findings land in fuzz/artifacts/<target>/; the run stops at the first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
SECONDS_EACH=${FUZZ_SECONDS:-300}
export CARGO_TARGET_DIR=${VOUCH_FUZZ_TARGET_DIR:-$HOME/.cache/vouch-fuzz-target}
command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked
targets=${*:-$(cd fuzz && cargo +nightly fuzz list)}
for target in $targets; do
  mkdir -p "fuzz/corpus/$target"
  [ -d "fuzz/seeds/$target" ] && cp -n fuzz/seeds/"$target"/* "fuzz/corpus/$target/" 2>/dev/null || true
  echo "== fuzzing $target for ${SECONDS_EACH}s"
  (cd fuzz && cargo +nightly fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1) 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)|SUMMARY|panicked|ERROR|artifact" || true
  if [ -n "$(ls -A "fuzz/artifacts/$target" 2>/dev/null)" ]; then
    echo "fuzz: $target found a crash: fuzz/artifacts/$target" >&2
    exit 1
  fi
done
echo "fuzz: no finding"
