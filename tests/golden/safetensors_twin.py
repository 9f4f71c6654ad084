"""PyTorch twin of nabla's small CNN: loads the nabla-written checkpoint and records its logits.

Model (nabla and PyTorch alike):
  Sequential(Conv2d(1, 4, 3, padding=1), ReLU, MaxPool2d(2), Flatten, Linear(4*4*4, 3)) on 8x8 inputs.
tests/golden/small_cnn.safetensors is written by nabla (crates/nabla-nn/tests/small_cnn.rs, test
`regenerate_small_cnn_checkpoint`, run with --ignored) from nabla::manual_seed(0). This script loads it
with safetensors.torch.load_file into the PyTorch twin with strict=True (so the key names, shapes and
dtypes must be PyTorch's), runs the fixed input
  x = ((arange(128) % 17) / 8 - 1).reshape(2, 1, 8, 8)   (float32, exact in binary)
and records `logits` (float32 computed, stored as f64) in tests/golden/small_cnn_logits.json, which the
Rust test `small_cnn_matches_pytorch` compares with nabla's output (1e-5).
Run from repo root: /work/venv/bin/python tests/golden/safetensors_twin.py   (needs `pip install safetensors`)
"""
import json, os
import torch
import torch.nn as nn
from safetensors.torch import load_file

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))

model = nn.Sequential(
    nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
state = load_file(os.path.join(HERE, "small_cnn.safetensors"))
model.load_state_dict(state, strict=True)
model.eval()

x = ((torch.arange(128) % 17).to(torch.float32) / 8 - 1).reshape(2, 1, 8, 8)
with torch.no_grad():
    logits = model(x)

OUT = {
    "x": {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]},
    "logits": {"shape": list(logits.shape), "data": [float(v) for v in logits.reshape(-1).tolist()]},
}
with open(os.path.join(HERE, "small_cnn_logits.json"), "w") as f:
    json.dump(OUT, f)
