#!/usr/bin/env python3
"""Writes the malformed audio files in this directory (Python standard library only).

    python3 make_bad.py

Each file must make `hark features` exit non-zero with a one-line error naming the
file, never a panic (see tests/features.rs).
"""

import random
import struct


def header(tag=1, channels=1, rate=16000, bits=16, data_len=None, data=b""):
    align = channels * ((bits + 7) // 8)
    if data_len is None:
        data_len = len(data)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_len) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def main():
    pcm = struct.pack("<8h", 0, 1000, 2000, 1000, 0, -1000, -2000, -1000)
    files = {
        # zero bytes
        "empty.wav": b"",
        # a text file with a .wav name
        "text.wav": b"This is not audio, just text in a file named .wav\n",
        # 1000 random bytes (seed 7)
        "random.wav": bytes(random.Random(7).randrange(256) for _ in range(1000)),
        # header cut inside the fmt chunk
        "truncated_header.wav": header(data=pcm)[:30],
        # header says 16 bytes of data, only 6 follow
        "truncated_data.wav": header(data=pcm)[:50],
        # 32-bit float with a NaN in the middle
        "nan_float.wav": header(tag=3, bits=32, data=struct.pack("<4f", 0.0, 0.5, float("nan"), 0.1)),
        # fmt chunk declares zero channels
        "zero_channels.wav": header(channels=0, data=pcm),
        # data chunk declares ~4 GB while the file has 16 bytes
        "huge_length.wav": header(data_len=0xFFFFFFF0, data=pcm),
        # a valid header with no samples at all
        "zero_samples.wav": header(data=b""),
        # IMA ADPCM: a real WAV encoding hark does not read (mu-law, which this
        # battery held until session 10, is read now)
        "ima_adpcm.wav": header(tag=0x11, bits=4, rate=8000, data=bytes(range(0, 256, 16))),
        # a FLAC signature followed by garbage
        "garbage.flac": b"fLaC" + bytes(random.Random(8).randrange(256) for _ in range(200)),
    }
    for name, data in files.items():
        with open(name, "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
