#!/usr/bin/env python3
"""Times hark and its Python peers on the same 60 s of 16 kHz speech, one thread.

Prints CPU seconds per minute of audio (best of N runs, `time.process_time`) for
fbank (80 mel bins) and MFCC (13 cepstra, 23 bins) and hark's ratio to each peer
(below 1.0: hark is faster), plus the load average before and after.

    python3 -m venv /tmp/venv-cmp
    /tmp/venv-cmp/bin/pip install numpy soundfile librosa python_speech_features \
        kaldi-native-fbank torch torchaudio
    /tmp/venv-cmp/bin/python benches/compare_features.py [--repeats N] [--no-build]

hark is timed in-process by `examples/features_speed.rs` (built with
`cargo build --release --example features_speed`), on exactly the same samples:
the clips in audio/, concatenated and tiled to 60 s. Every tool runs on one thread
(OMP/BLAS/numba thread counts 1, `torch.set_num_threads(1)`). Each peer computes the
same features its own usual way: librosa and python_speech_features their mel
spectrogram / MFCC with 25 ms / 10 ms frames and a 512-point FFT; torchaudio
`compliance.kaldi.fbank` / `.mfcc` and kaldi-native-fbank with Kaldi's defaults
(float32, as users call them). Peers that are not installed are skipped.
"""

import argparse
import json
import os
import subprocess
import sys
import time

# One thread everywhere, before numpy / torch load their BLAS and OpenMP pools.
for var in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"]:
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIPS = ["go_forward_ten_meters.wav", "digits_3719.wav", "yes.wav", "stop.wav"]
RATE = 16000


def sixty_seconds():
    clip = np.concatenate([sf.read(os.path.join(ROOT, "audio", c), dtype="float32")[0] for c in CLIPS])
    reps = -(-60 * RATE // len(clip))
    return np.tile(clip, reps)[: 60 * RATE].astype(np.float32)


def best_cpu(fn, repeats):
    fn()  # warm-up (imports, plans, caches)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def peers(x):
    """(name, kind, callable) for every installed peer."""
    out = []
    try:
        import librosa

        def lr_fbank():
            m = librosa.feature.melspectrogram(
                y=x, sr=RATE, n_fft=512, win_length=400, hop_length=160, n_mels=80, center=False
            )
            return np.log(np.maximum(m, 1e-10))

        def lr_mfcc():
            return librosa.feature.mfcc(
                y=x, sr=RATE, n_mfcc=13, n_fft=512, win_length=400, hop_length=160, n_mels=23, center=False
            )

        out += [(f"librosa {librosa.__version__}", "fbank80", lr_fbank),
                (f"librosa {librosa.__version__}", "mfcc13", lr_mfcc)]
    except ImportError:
        print("librosa not installed: skipped", file=sys.stderr)
    try:
        import torch
        import torchaudio
        import torchaudio.compliance.kaldi as tk

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        t = torch.from_numpy(x * 32768.0).unsqueeze(0)
        ver = f"torchaudio {torchaudio.__version__.split('+')[0]}"

        def ta_fbank():
            with torch.inference_mode():
                return tk.fbank(t, num_mel_bins=80, dither=0.0, energy_floor=0.0)

        def ta_mfcc():
            with torch.inference_mode():
                return tk.mfcc(t, num_mel_bins=23, num_ceps=13, dither=0.0, energy_floor=0.0,
                               use_energy=True)

        out += [(ver, "fbank80", ta_fbank), (ver, "mfcc13", ta_mfcc)]
    except ImportError:
        print("torchaudio not installed: skipped", file=sys.stderr)
    try:
        import python_speech_features as psf

        out += [("python_speech_features", "fbank80", lambda: psf.logfbank(x, RATE, nfilt=80, nfft=512)),
                ("python_speech_features", "mfcc13", lambda: psf.mfcc(x, RATE, numcep=13, nfilt=23, nfft=512))]
    except ImportError:
        print("python_speech_features not installed: skipped", file=sys.stderr)
    try:
        import kaldi_native_fbank as knf

        xi = (x * 32768.0).tolist()

        def knf_run(opts, cls):
            opts.frame_opts.dither = 0.0
            f = cls(opts)
            f.accept_waveform(RATE, xi)
            f.input_finished()
            return [f.get_frame(i) for i in range(f.num_frames_ready)]

        def knf_fbank():
            o = knf.FbankOptions()
            o.mel_opts.num_bins = 80
            return knf_run(o, knf.OnlineFbank)

        ver = f"kaldi-native-fbank {knf.__version__}"
        out += [(ver, "fbank80", knf_fbank),
                (ver, "mfcc13", lambda: knf_run(knf.MfccOptions(), knf.OnlineMfcc))]
    except ImportError:
        print("kaldi-native-fbank not installed: skipped", file=sys.stderr)
    return out


def hark_numbers(repeats, build):
    if build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "features_speed"],
                       cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "features_speed")
    res = subprocess.run([exe, "--repeats", str(repeats)], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return {(r["kind"]): r["cpu_s_per_min"] for r in map(json.loads, res.stdout.splitlines())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--no-build", action="store_true", help="use an already built example binary")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    load_before = os.getloadavg()
    x = sixty_seconds()
    minutes = len(x) / RATE / 60.0
    h = hark_numbers(args.repeats, not args.no_build)
    rows = []
    for name, kind, fn in peers(x):
        rows.append((name, kind, best_cpu(fn, args.repeats) / minutes))
    # hark again after the peers: report the better of its two runs, like the peers' best-of-N
    h2 = hark_numbers(args.repeats, False)
    h = {k: min(h[k], h2[k]) for k in h}
    load_after = os.getloadavg()
    print(f"{'tool':32s} {'kind':8s} {'CPU s/min audio':>16s} {'hark/peer':>10s}")
    for kind in ["fbank80", "mfcc13"]:
        print(f"{'hark':32s} {kind:8s} {h[kind]:16.4f} {'':>10s}")
        for name, k, v in rows:
            if k == kind:
                print(f"{name:32s} {kind:8s} {v:16.4f} {h[kind] / v:10.3f}")
    print(f"best of {args.repeats} runs each, 1 thread; load average (1, 5, 15 min) "
          f"before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; "
          f"{os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
