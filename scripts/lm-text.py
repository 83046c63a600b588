#!/usr/bin/env python3
"""Text for the default model's language model: the corpus sentence pool plus the
training split's transcripts, minus every transcript of the dev and test splits (so
the LM has never seen a held-out sentence). Standard library only.

usage: scripts/lm-text.py SENTENCES.txt CORPUS_DIR OUT.txt
  SENTENCES.txt  the sentence pool the corpus was synthesized from (scripts/get-text.sh)
  CORPUS_DIR     holds train.jsonl, dev.jsonl, test.jsonl (hark corpus synth)
"""
import json
import os
import sys


def texts(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)["text"].strip().lower()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    pool, corpus, out = sys.argv[1:]
    held = set()
    for split in ("dev", "test"):
        held.update(texts(os.path.join(corpus, split + ".jsonl")))
    lines, dropped = [], 0
    with open(pool, encoding="utf-8") as f:
        for line in f:
            t = line.strip().lower()
            if not t:
                continue
            if t in held:
                dropped += 1
                continue
            lines.append(t)
    train = [t for t in texts(os.path.join(corpus, "train.jsonl")) if t not in held]
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines + train) + "\n")
    os.replace(tmp, out)
    print(f"{out}: {len(lines)} pool sentences ({dropped} held-out dropped), "
          f"{len(train)} training transcripts", file=sys.stderr)


if __name__ == "__main__":
    main()
