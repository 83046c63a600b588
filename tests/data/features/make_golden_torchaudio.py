#!/usr/bin/env python3
"""Makes the float64 golden feature files in torchaudio/ with torchaudio.compliance.kaldi.

The second, independent reference (the first is kaldi-native-fbank, make_golden.py).
Everything runs in float64: the waveform, the window, the FFT, and (because the
default dtype is set to float64 first) the mel banks, DCT matrix and lifter, which
torchaudio otherwise builds in float32. The log floor stays Kaldi's: torchaudio's
EPSILON is float32's epsilon, converted to float64.

Run from this directory, after make_golden.py made the WAVs:

    python3 -m venv /work/venv-ta
    /work/venv-ta/bin/pip install torch==2.11.0 torchaudio==2.11.0 numpy soundfile
    /work/venv-ta/bin/python make_golden_torchaudio.py

Inputs: speech.wav, silence.wav, noise.wav (16 kHz, 16-bit mono), as int16 values
(not / 32768), as Kaldi reads them. Outputs, float32 .npy [frames, dim] (values
computed in float64, rounded once at the end), dither 0, energy_floor 0 (torchaudio's
default is 1.0; Kaldi's is 0), Kaldi defaults otherwise:
  torchaudio/<name>.fbank80.npy     fbank, 80 mel bins
  torchaudio/<name>.mfcc13.npy      MFCC, 23 bins, 13 cepstra, lifter 22, use_energy
  torchaudio/speech.fbank40_e_nosnip_hamming.npy   40 bins, use_energy, snip_edges False, hamming
  torchaudio/speech.mfcc20_nolift_noenergy.npy     MFCC 30 bins, 20 cepstra, lifter 0, no energy
  torchaudio/speech.fbank23_e_htk.npy     fbank 23 bins, use_energy, htk_compat (energy last)
  torchaudio/speech.mfcc13_htk.npy        MFCC defaults + htk_compat (C1 .. C12, then energy)
  torchaudio/speech.mfcc13_htk_noenergy.npy   MFCC htk_compat, use_energy False (C1 .. C12, C0 · √2)
  torchaudio/speech.fbank23_vtln0.9.npy   fbank 23 bins, vtln_warp 0.9 (vtln_low 100, vtln_high -500)
  torchaudio/speech.fbank40_vtln1.1.npy   fbank 40 bins, vtln_warp 1.1
  torchaudio/speech.mfcc13_vtln1.15_lowhigh.npy   MFCC defaults, vtln_warp 1.15, vtln_low 300, vtln_high 7000
"""

import os

import numpy as np
import soundfile as sf
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi

RATE = 16000
OUT = "torchaudio"


def fbank(x, **kw):
    args = dict(num_mel_bins=80, dither=0.0, energy_floor=0.0, sample_frequency=RATE)
    args.update(kw)
    return kaldi.fbank(x, **args)


def mfcc(x, **kw):
    args = dict(num_mel_bins=23, num_ceps=13, cepstral_lifter=22.0, use_energy=True,
                dither=0.0, energy_floor=0.0, sample_frequency=RATE)
    args.update(kw)
    return kaldi.mfcc(x, **args)


def save(name, feats):
    assert feats.dtype == torch.float64
    np.save(os.path.join(OUT, name), feats.numpy().astype(np.float32))


def main():
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    for name in ["speech", "silence", "noise"]:
        data, rate = sf.read(f"{name}.wav", dtype="int16")
        assert rate == RATE and data.ndim == 1
        x = torch.from_numpy(data.astype(np.float64)).unsqueeze(0)  # int16 values, unscaled
        save(f"{name}.fbank80.npy", fbank(x))
        save(f"{name}.mfcc13.npy", mfcc(x))
        if name != "speech":
            continue
        save("speech.fbank40_e_nosnip_hamming.npy",
             fbank(x, num_mel_bins=40, use_energy=True, snip_edges=False, window_type="hamming"))
        save("speech.mfcc20_nolift_noenergy.npy",
             mfcc(x, num_mel_bins=30, num_ceps=20, cepstral_lifter=0.0, use_energy=False))
        save("speech.fbank23_e_htk.npy", fbank(x, num_mel_bins=23, use_energy=True, htk_compat=True))
        save("speech.mfcc13_htk.npy", mfcc(x, htk_compat=True))
        save("speech.mfcc13_htk_noenergy.npy", mfcc(x, htk_compat=True, use_energy=False))
        save("speech.fbank23_vtln0.9.npy", fbank(x, num_mel_bins=23, vtln_warp=0.9))
        save("speech.fbank40_vtln1.1.npy", fbank(x, num_mel_bins=40, vtln_warp=1.1))
        save("speech.mfcc13_vtln1.15_lowhigh.npy",
             mfcc(x, vtln_warp=1.15, vtln_low=300.0, vtln_high=7000.0))
    print("torch", torch.__version__, "torchaudio", torchaudio.__version__,
          "numpy", np.__version__, "soundfile", sf.__version__)


if __name__ == "__main__":
    main()
