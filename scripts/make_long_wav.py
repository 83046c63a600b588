#!/usr/bin/env python3
"""Builds the 60-minute WAV of docs/reliability.md: the test-split utterances of a
hark corpus (16 kHz 16-bit mono), in manifest order, each followed by 0.3 s of
silence, until 3600 s, then padded with silence to exactly 60 minutes.

Usage: scripts/make_long_wav.py CORPUS_DIR OUT_DIR
Writes OUT_DIR/long60.wav and OUT_DIR/pieces.txt (path, start s, end s per piece).
Standard library only."""
import json
import os
import sys
import wave

corpus, out_dir = sys.argv[1], sys.argv[2]
os.makedirs(out_dir, exist_ok=True)
gap = b"\x00\x00" * 4800
total = 0
with wave.open(os.path.join(out_dir, "long60.wav"), "wb") as out, \
        open(os.path.join(out_dir, "pieces.txt"), "w") as pieces:
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(16000)
    for line in open(os.path.join(corpus, "test.jsonl")):
        u = json.loads(line)
        path = os.path.join(corpus, u["audio"])
        with wave.open(path, "rb") as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2), path
            n = w.getnframes()
            if total + n + 4800 > 3600 * 16000:
                break
            out.writeframes(w.readframes(n))
        out.writeframes(gap)
        pieces.write(f"{path}\t{total / 16000:.3f}\t{(total + n) / 16000:.3f}\n")
        total += n + 4800
    out.writeframes(b"\x00\x00" * (3600 * 16000 - total))
