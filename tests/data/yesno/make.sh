#!/usr/bin/env bash
# Regenerates the tiny "yes/no" corpus used by hark's end-to-end test (the
# icefall/Kaldi yesno recipe in miniature). Needs espeak-ng and sox (Debian).
# Output: wavs/*.wav (16 kHz, 16-bit mono) and train.jsonl / test.jsonl.
# Training voices and test voices are disjoint.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf wavs && mkdir -p wavs
sentences=("yes" "no" "yes no" "no yes" "yes yes" "no no" "yes no no" "no yes yes")
train_voices=("en-us" "en-gb" "en-us+f3" "en-gb-scotland" "en-us+m3" "en-029")
test_voices=("en-gb-x-rp+f2" "en-us+m7")
emit() { # split voice list
  local split=$1; shift
  local out="$split.jsonl"; : > "$out"
  local n=0
  for v in "$@"; do
    for s in "${sentences[@]}"; do
      id="${split}_$(printf %03d $n)"; n=$((n+1))
      rate=$((150 + (n * 17) % 40))
      espeak-ng -v "$v" -s "$rate" -w "/tmp/$id.wav" "$s"
      # 16 kHz, 16-bit, mono; trim nothing (leading/trailing silence is data too)
      sox "/tmp/$id.wav" -r 16000 -b 16 -c 1 "wavs/$id.wav"
      rm -f "/tmp/$id.wav"
      dur=$(soxi -D "wavs/$id.wav")
      printf '{"id": "%s", "audio": "wavs/%s.wav", "text": "%s", "duration": %s, "speaker": "%s"}\n' \
        "$id" "$id" "$s" "$dur" "$v" >> "$out"
    done
  done
}
emit train "${train_voices[@]}"
emit test "${test_voices[@]}"
espeak-ng --version > VERSION
sox --version >> VERSION
