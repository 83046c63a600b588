#!/usr/bin/env python3
"""Writes every G.711 code as an 8 kHz mono WAV (mulaw_all.wav, alaw_all.wav), then
has SoX decode each to 16-bit PCM (*.s16.wav): the reference the tests compare
hark's decoder with, code for code."""
import struct, subprocess
for tag, name in [(7, "mulaw"), (6, "alaw")]:
    data = bytes(range(256))
    fmt = struct.pack("<HHIIHH", tag, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    open(f"{name}_all.wav", "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
    subprocess.run(["sox", f"{name}_all.wav", "-e", "signed-integer", "-b", "16", f"{name}_all.s16.wav"], check=True)
