#!/usr/bin/env python3
"""Makes the golden feature files in this directory with kaldi-native-fbank.

Run from this directory (needs espeak-ng and sox on PATH for the speech WAV):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install kaldi-native-fbank==1.23.0 numpy soundfile
    /tmp/venv/bin/python make_golden.py

Inputs (16 kHz, 16-bit mono):
  speech.wav   espeak-ng -v en-us -s 150 "she had your dark suit in greasy wash water" → sox to 16 kHz
  silence.wav  1.0 s of digital zeros
  noise.wav    1.0 s of Gaussian noise, sigma 3000 (int16 units), numpy seed 1234
Also FLAC copies for the reader tests (made with sox from speech.wav).

Outputs, float32 .npy [frames, dim], all with dither 0 and Kaldi defaults otherwise:
  <name>.fbank80.npy          FbankOptions, num_bins 80
  <name>.mfcc13.npy           MfccOptions (23 bins, 13 ceps, lifter 22, use_energy)
  speech.fbank40_e_nosnip_hamming.npy   num_bins 40, use_energy, snip_edges False, hamming
  speech.mfcc20_nolift_noenergy.npy     MFCC num_bins 30, num_ceps 20, lifter 0, use_energy False
Kaldi reads int16 values unscaled, so the samples go in as int16 values (not / 32768).
"""

import subprocess

import kaldi_native_fbank as knf
import numpy as np
import soundfile as sf

RATE = 16000


def make_inputs():
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", "/tmp/speech-22k.wav",
         "she had your dark suit in greasy wash water"],
        check=True,
    )
    subprocess.run(
        ["sox", "-D", "/tmp/speech-22k.wav", "-r", "16000", "-b", "16", "-c", "1", "speech.wav"],
        check=True,
    )
    subprocess.run(["sox", "-D", "speech.wav", "speech.flac"], check=True)
    subprocess.run(
        ["sox", "-D", "speech.wav", "-r", "44100", "-b", "24", "-c", "2",
         "speech-44k1-stereo-24bit.flac", "trim", "0", "0.5"],
        check=True,
    )
    sf.write("silence.wav", np.zeros(RATE, dtype=np.int16), RATE, subtype="PCM_16")
    rng = np.random.default_rng(1234)
    noise = np.clip(np.round(rng.normal(0.0, 3000.0, RATE)), -32768, 32767).astype(np.int16)
    sf.write("noise.wav", noise, RATE, subtype="PCM_16")


def run(online, samples):
    online.accept_waveform(RATE, samples.tolist())
    online.input_finished()
    n = online.num_frames_ready
    return np.stack([np.array(online.get_frame(i), dtype=np.float32) for i in range(n)])


def fbank(samples, num_bins=80, use_energy=False, snip_edges=True, window="povey"):
    o = knf.FbankOptions()
    o.frame_opts.dither = 0.0
    o.frame_opts.snip_edges = snip_edges
    o.frame_opts.window_type = window
    o.mel_opts.num_bins = num_bins
    o.use_energy = use_energy
    return run(knf.OnlineFbank(o), samples)


def mfcc(samples, num_bins=23, num_ceps=13, lifter=22.0, use_energy=True):
    o = knf.MfccOptions()
    o.frame_opts.dither = 0.0
    o.mel_opts.num_bins = num_bins
    o.num_ceps = num_ceps
    o.cepstral_lifter = lifter
    o.use_energy = use_energy
    return run(knf.OnlineMfcc(o), samples)


def main():
    make_inputs()
    for name in ["speech", "silence", "noise"]:
        data, rate = sf.read(f"{name}.wav", dtype="int16")
        assert rate == RATE and data.ndim == 1
        samples = data.astype(np.float32)  # int16 values, unscaled, as Kaldi reads them
        np.save(f"{name}.fbank80.npy", fbank(samples))
        np.save(f"{name}.mfcc13.npy", mfcc(samples))
        if name == "speech":
            np.save(f"{name}.fbank40_e_nosnip_hamming.npy",
                    fbank(samples, num_bins=40, use_energy=True, snip_edges=False, window="hamming"))
            np.save(f"{name}.mfcc20_nolift_noenergy.npy",
                    mfcc(samples, num_bins=30, num_ceps=20, lifter=0.0, use_energy=False))
    print("kaldi-native-fbank", knf.__version__, "numpy", np.__version__, "soundfile", sf.__version__)


if __name__ == "__main__":
    main()
