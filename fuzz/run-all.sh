#!/usr/bin/env bash
# Runs every fuzz target for SECS seconds (default 240), one after another, on one
# core. New corpus entries go to corpus/<target>/ (not committed); crashes to
# artifacts/<target>/; libFuzzer's log (with the final stats) to logs/<target>.log.
# Usage (from fuzz/): ./run-all.sh [SECS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-240}
shift || true
targets=${*:-audio_wav audio_flac audio_pipe arpa lexicon manifest model_bundle index}
mkdir -p logs
for t in $targets; do
  mkdir -p "corpus/$t"
  echo "== $t ($secs s)"
  cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 > "logs/$t.log" 2>&1
  echo "exit $?"
  grep -E "^stat::number_of_executed_units|^Done|SUMMARY|panicked" "logs/$t.log" | head -5
done
