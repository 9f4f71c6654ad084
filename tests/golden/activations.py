"""Golden values for activations (float64).
x = concat(linspace(-6, 6, 25), [-30, -20, 20, 30]) (29 points; includes exact 0, +-1, +-20)
For each activation <name>: <name>.out = f(x), <name>.grad = d sum(f(x)) / dx (elementwise f').
  gelu (exact, erf), gelu_tanh (approximate='tanh'), silu, softplus (beta=1, threshold=20:
  returns x where x*beta > threshold, strict >, so x=20 uses log1p(exp(x))), elu (alpha=1),
  leaky_relu (0.01), hardtanh (-1,1; grad is 0 at exactly +-1), sigmoid, tanh,
  relu (evaluated on relu.x = x without the 0 point; PyTorch relu'(0) = 0 anyway).
Keys: x, <name>.out, <name>.grad, relu.x
Run from repo root: /work/venv/bin/python tests/golden/activations.py
"""
import json, os
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
DT = torch.float64
OUT = {}


def put(k, t):
    if not torch.is_tensor(t):
        t = torch.tensor(t, dtype=DT)
    t = t.detach().to(DT).contiguous()
    OUT[k] = {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


x0 = torch.cat([torch.linspace(-6, 6, 25, dtype=DT), torch.tensor([-30.0, -20.0, 20.0, 30.0], dtype=DT)])
put("x", x0)

ACTS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "softplus": lambda x: F.softplus(x, beta=1.0, threshold=20.0),
    "elu": lambda x: F.elu(x, alpha=1.0),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
    "hardtanh": lambda x: F.hardtanh(x, -1.0, 1.0),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
}
for name, f in ACTS.items():
    xin = x0[x0 != 0] if name == "relu" else x0
    if name == "relu":
        put("relu.x", xin)
    x = xin.clone().requires_grad_(True)
    out = f(x)
    out.sum().backward()
    put(f"{name}.out", out)
    put(f"{name}.grad", x.grad)

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "activations.json"), "w") as f:
    json.dump(OUT, f)
