#!/usr/bin/env bash
# The corpus recipe, end to end: engines, lexicon, text, synthesis, label quality.
#
#   scripts/build-corpus.sh [HOURS] [OUT] [JOBS] [SEED]
#
# defaults: 20 hours of training audio (+ 1 h dev, 1 h test) in $HARK_DATA/corpus,
# 1 worker, seed 1. Every step is resumable: run it again after an interruption.
# Downloads and generated files go under $HARK_DATA (default: data/, gitignored).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
export HARK_DATA="${HARK_DATA:-$root/data}"
data="$HARK_DATA"
hours="${1:-20}"
out="${2:-$data/corpus}"
jobs="${3:-1}"
seed="${4:-1}"

if ! command -v flite >/dev/null || ! command -v festival >/dev/null \
    || [ ! -f /usr/include/espeak-ng/speak_lib.h ] || [ ! -f /usr/share/wordnet/data.noun ]; then
    "$here/install-tts.sh"
fi
[ -x "$data/tools/espeak-events" ] || "$here/build-espeak-events.sh"
[ -f "$data/lexicon/cmudict.dict" ] || "$here/make-lexicon.sh"
[ -f "$data/text/raw/wordnet-examples.txt" ] || "$here/get-text.sh"

(cd "$root" && cargo build --release --quiet)
hark="$root/target/release/hark"

# Prompt sentences, and the decoding-vocabulary lexicon of the default bundle.
"$hark" corpus text --lexicon "$data/lexicon/cmudict.dict" \
    "$data"/text/raw/sotu/*.txt "$data/text/raw/wordnet-examples.txt" \
    --out "$data/text/sentences.txt" --vocab-out "$root/models/default/lexicon.txt"

time "$hark" corpus synth --text "$data/text/sentences.txt" \
    --lexicon "$data/lexicon/cmudict.dict" --hours "$hours" --seed "$seed" --jobs "$jobs" \
    --espeak-helper "$data/tools/espeak-events" --out "$out"

"$hark" corpus label-quality --lexicon "$data/lexicon/cmudict.dict" --by engine \
    "$out/train.jsonl" "$out/dev.jsonl" "$out/test.jsonl"
# Pronunciations the training voices use, added to the default bundle's lexicon
# (after CMUdict's), and every pronunciation's probability; see docs/lexicon.md.
"$hark" lexicon learn --lexicon "$root/models/default/lexicon.txt" \
    --out "$root/models/default/lexicon.txt" "$out/train.jsonl"
du -sh "$out"
