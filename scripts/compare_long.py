#!/usr/bin/env python3
"""Compares `hark transcribe --format json` of the hour-long WAV made by
make_long_wav.py with the same utterances transcribed one by one.

Usage: scripts/compare_long.py CORPUS_DIR LONG_DIR LONG_JSON PIECES_JSONL
  CORPUS_DIR    the corpus whose test.jsonl holds the reference texts
  LONG_DIR      where make_long_wav.py wrote pieces.txt (path, start, end per line)
  LONG_JSON     hark's JSON for the long file
  PIECES_JSONL  hark's JSON Lines for the utterance files, in pieces.txt order
Prints the WER of both against the references, and how many utterances come out
word for word the same (long-file words whose midpoint lies in the utterance's
span ± 0.15 s).
"""
import json
import sys


def edits(x, y):
    prev = list(range(len(y) + 1))
    for i, xi in enumerate(x, 1):
        cur = [i] + [0] * len(y)
        for j, yj in enumerate(y, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (xi != yj))
        prev = cur
    return prev[-1]


def main():
    corpus, long_dir, long_json, pieces_jsonl = sys.argv[1:5]
    refs = {}
    for line in open(f"{corpus}/test.jsonl"):
        u = json.loads(line)
        refs[f"{corpus}/{u['audio']}"] = u["text"].split()
    spans = []
    for line in open(f"{long_dir}/pieces.txt"):
        path, start, end = line.rstrip("\n").split("\t")
        spans.append((path, float(start), float(end)))
    long_words = json.load(open(long_json))["words"]
    pieces = [json.loads(line)["words"] for line in open(pieces_jsonl)]
    assert len(pieces) == len(spans), "one JSON line per piece"
    ref = [w for path, _, _ in spans for w in refs[path]]
    hyp_long = [w["word"] for w in long_words]
    hyp_pieces = [w["word"] for p in pieces for w in p]
    same = 0
    diff = 0
    for (_, s, e), p in zip(spans, pieces):
        lw = [w["word"] for w in long_words if s - 0.15 <= (w["start"] + w["end"]) / 2 <= e + 0.15]
        pw = [w["word"] for w in p]
        same += lw == pw
        diff += edits(lw, pw)
    print(f"reference words {len(ref)}; WER long file {100 * edits(hyp_long, ref) / len(ref):.2f} %; "
          f"WER utterances alone {100 * edits(hyp_pieces, ref) / len(ref):.2f} %")
    print(f"utterances with identical words: {same}/{len(spans)}; word edits between the two: "
          f"{diff} ({100 * diff / max(1, len(hyp_pieces)):.2f} % of the utterances' words)")


if __name__ == "__main__":
    main()
