#!/usr/bin/env python3
"""PyTorch (CPU, 1 thread) at the shapes of benches/nn.rs, for the README ratio.

print(torch.__version__) is shown first; frames/s are per second of on-CPU time.

    /work/venv-torch/bin/python benches/compare_nn.py
    cargo bench --bench nn

Prints frames/s: inference batch 1 x 1000 frames x 80 features for 2x256 uni/bi and
3x256 bi LSTMs, and a CTC training step (forward + backward) on batch 16 x 200 frames
for 2x256 uni, 3x256 bi (the default model's shape) and 3x320 bi LSTMs with a 41-way
output layer.
"""
import time

import torch

torch.set_num_threads(1)
print(f"torch {torch.__version__}, {torch.get_num_threads()} thread")
torch.manual_seed(0)
FEAT, FRAMES, BATCH, TFRAMES, OUT = 80, 1000, 16, 200, 41


def best_rate(fn, frames, repeats=5):
    """Mean frames per second of on-CPU thread time (as benches/nn.rs measures:
    the 2-core development machine is shared, so wall clock measures the neighbours)."""
    fn()  # warm-up
    t0 = time.thread_time()
    for _ in range(repeats):
        fn()
    return frames * repeats / (time.thread_time() - t0)


with torch.no_grad():
    x = torch.randn(FRAMES, 1, FEAT)
    for name, layers, bi in [("uni_2x256", 2, False), ("bi_2x256", 2, True), ("bi_3x256", 3, True)]:
        m = torch.nn.LSTM(FEAT, 256, num_layers=layers, bidirectional=bi).eval()
        print(f"inference {name}: {best_rate(lambda: m(x), FRAMES):.0f} frames/s")

ctc = torch.nn.CTCLoss(blank=0, reduction="sum")
for name, hidden, layers, bi in [("uni_2x256", 256, 2, False), ("bi_3x256", 256, 3, True),
                                 ("bi_3x320", 320, 3, True)]:
    m = torch.nn.LSTM(FEAT, hidden, num_layers=layers, bidirectional=bi)
    out = torch.nn.Linear(hidden * (2 if bi else 1), OUT)
    x = torch.randn(TFRAMES, BATCH, FEAT)
    targets = torch.tensor([[1 + (i * 7 + b) % 40 for i in range(40)] for b in range(BATCH)])
    in_lens = torch.full((BATCH,), TFRAMES)
    tgt_lens = torch.full((BATCH,), 40)

    def step():
        m.zero_grad()
        out.zero_grad()
        h, _ = m(x)
        lp = out(h).log_softmax(-1)
        ctc(lp, targets, in_lens, tgt_lens).backward()

    print(f"train {name} batch {BATCH}: {best_rate(step, BATCH * TFRAMES, 3):.0f} frames/s")
