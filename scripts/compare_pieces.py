#!/usr/bin/env python3
"""Checks that a long file's transcript equals its pieces transcribed one by one.

Usage: scripts/compare_pieces.py LONG_JSON SEGMENTS_JSONL PIECES_JSON
  LONG_JSON       `hark transcribe --format json LONG.wav`
  SEGMENTS_JSONL  `hark segment LONG.wav --out DIR` wrote DIR/segments.jsonl
  PIECES_JSON     `hark transcribe --format json DIR/segments.jsonl` (same order)
Prints how many pieces and words agree; words must match exactly and their times
(shifted by each piece's offset) to within 1 ms.
"""
import json
import sys

long_words = json.load(open(sys.argv[1]))["words"]
segments = [json.loads(line) for line in open(sys.argv[2])]
pieces = [json.loads(line) for line in open(sys.argv[3])]
assert len(segments) == len(pieces), "one transcript per piece"
shifted = []
for seg, p in zip(segments, pieces):
    assert p["file"].endswith(seg["audio"]), (p["file"], seg["audio"])
    shifted += [(w["word"], w["start"] + seg["offset"], w["end"] + seg["offset"]) for w in p["words"]]
same_words = [w["word"] for w in long_words] == [w for w, _, _ in shifted]
time_ok = same_words and all(
    abs(a["start"] - s) < 1e-3 and abs(a["end"] - e) < 1e-3 for a, (_, s, e) in zip(long_words, shifted)
)
print(f"pieces {len(pieces)}; words: long {len(long_words)}, pieces {len(shifted)}; "
      f"identical word sequence: {same_words}; times within 1 ms: {time_ok}")
sys.exit(0 if same_words and time_ok else 1)
