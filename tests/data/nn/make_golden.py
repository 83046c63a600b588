#!/usr/bin/env python3
"""Makes the PyTorch golden files in tests/data/nn/ (run offline; tests never need Python).

    python3 -m venv /work/venv-torch && /work/venv-torch/bin/pip install torch numpy safetensors
    /work/venv-torch/bin/python tests/data/nn/make_golden.py

Each <case>.safetensors holds, all float32:
  <kind>.weight_ih_l0 ...   the module's state_dict, prefixed by "lstm." / "gru." / "rnn."
  input     [T*B, D]  time-major (row t*B + b), zero padding past each length
  lengths   [B]       sequence lengths, longest first
  output    [T*B, H*dirs]  module output (padded with zeros via pack_padded_sequence)
  loss_weight [T*B, H*dirs]  w in loss = sum(output * w)
  grad.input, grad.<kind>.<param>   gradients of that loss
"""
import torch
from safetensors.torch import save_file

torch.manual_seed(1234)
OUT = __file__.rsplit("/", 1)[0]

CASES = [
    # name, module class, input dim, hidden, layers, bidirectional, lengths
    ("lstm_uni_1layer", torch.nn.LSTM, 5, 8, 1, False, [7, 7]),
    ("lstm_bi_2layer", torch.nn.LSTM, 5, 6, 2, True, [7, 5, 2]),
    ("lstm_uni_2layer", torch.nn.LSTM, 4, 6, 2, False, [6, 3]),
    ("gru_uni_1layer", torch.nn.GRU, 5, 8, 1, False, [7, 4]),
    ("gru_bi_2layer", torch.nn.GRU, 5, 6, 2, True, [7, 5, 2]),
    ("rnn_bi_1layer", torch.nn.RNN, 3, 4, 1, True, [5, 3]),
]

for name, cls, d, h, layers, bi, lengths in CASES:
    kind = cls.__name__.lower()
    m = cls(d, h, num_layers=layers, bidirectional=bi)
    T, B = max(lengths), len(lengths)
    x = torch.randn(T, B, d)  # (T, B, D): time-major as hark stores batches
    for b, l in enumerate(lengths):
        x[l:, b] = 0
    x.requires_grad_(True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths))
    y, _ = m(packed)
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=T)  # (T, B, H*dirs)
    w = torch.randn(y.shape)
    (y * w).sum().backward()
    out = {f"{kind}.{k}": v.detach().clone().contiguous() for k, v in m.state_dict().items()}
    out["input"] = x.detach().reshape(T * B, d).contiguous()
    out["lengths"] = torch.tensor(lengths, dtype=torch.float32)
    out["output"] = y.detach().reshape(T * B, -1).contiguous()
    out["loss_weight"] = w.reshape(T * B, -1).contiguous()
    out["grad.input"] = x.grad.reshape(T * B, d).contiguous()
    for k, p in m.named_parameters():
        out[f"grad.{kind}.{k}"] = p.grad.detach().clone().contiguous()
    save_file(out, f"{OUT}/{name}.safetensors", metadata={"torch": torch.__version__})
    print(name, {k: tuple(v.shape) for k, v in out.items() if not k.startswith("grad.")})
