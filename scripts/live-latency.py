#!/usr/bin/env python3
"""Latency of live transcription (`hark transcribe -`), measured on this machine.

Streams WAV files into `hark transcribe --format json -` in real time (20 ms writes),
each followed by a second of silence, and reports for each one how long after its
speech ended (its last 10 ms frame within 40 dB of its loudest) the transcript
arrived.

    scripts/live-latency.py [--hark target/release/hark] [--decoder hmm] audio/*.wav
"""
import argparse, json, struct, subprocess, sys, threading, time, wave

ap = argparse.ArgumentParser()
ap.add_argument("wavs", nargs="+")
ap.add_argument("--hark", default="target/release/hark")
ap.add_argument("--decoder", default="beam")
ap.add_argument("--rounds", type=int, default=3)
a = ap.parse_args()

clips = []
for path in a.wavs:
    with wave.open(path) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        data = w.readframes(w.getnframes())
    x = struct.unpack(f"<{len(data) // 2}h", data)
    rms = [sum(v * v for v in x[i:i + 160]) / 160 for i in range(0, len(x) - 159, 160)]
    last = max(i for i, e in enumerate(rms) if e > max(rms) / 1e4)
    speech_end = (last + 1) * 160 * 2  # bytes
    clips.append((path, data, speech_end))

header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " + struct.pack(
    "<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data" + struct.pack("<I", 0xFFFFFFFF)
proc = subprocess.Popen([a.hark, "transcribe", "-q", "--decoder", a.decoder, "--format", "json", "-"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
arrivals = []
def read():
    for line in proc.stdout:
        arrivals.append((time.monotonic(), json.loads(line)["text"]))
threading.Thread(target=read, daemon=True).start()

proc.stdin.write(header)
step = 640  # 20 ms of 16-bit samples
sent = 0.0
start = time.monotonic()
ends = []
def pace(data):
    global sent
    for i in range(0, len(data), step):
        chunk = data[i:i + step]
        sent += len(chunk) / 32000
        delay = start + sent - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        proc.stdin.write(chunk)
        proc.stdin.flush()
for _ in range(a.rounds):
    for path, data, speech_end in clips:
        pace(data[:speech_end])
        ends.append((time.monotonic(), path))
        pace(data[speech_end:])
        pace(b"\0" * 32000)
proc.stdin.close()
proc.wait()
lat = []
for (t_end, path), (t_got, text) in zip(ends, arrivals):
    lat.append(t_got - t_end)
    print(f"{path}\t{text}\t{1000 * (t_got - t_end):.0f} ms")
lat.sort()
print(f"{len(lat)} utterances ({len(arrivals)} transcripts): latency median {1000 * lat[len(lat) // 2]:.0f} ms, "
      f"max {1000 * lat[-1]:.0f} ms after the end of speech", file=sys.stderr)
