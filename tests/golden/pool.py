"""Golden values for pooling (float64). Grad = d/dx sum(out*g), g random of out's shape.

  max_k2s2:   max_pool2d x[2,3,8,8] kernel 2 stride 2 padding 0
  max_k3s2p1: max_pool2d x[2,3,8,8] kernel 3 stride 2 padding 1 (padding acts as -inf)
  avg_k2s2:   avg_pool2d x[2,3,8,8] kernel 2 stride 2
  avg_k3s2p1: avg_pool2d x[2,3,8,8] kernel 3 stride 2 padding 1, count_include_pad=True (divisor always 9)
  adaptive_avg_3x3: adaptive_avg_pool2d x[2,3,7,7] -> (3,3)
    bins: start=floor(i*In/Out), end=ceil((i+1)*In/Out)  -> [0,3),[2,5),[4,7) (overlapping)
Keys: <case>.x, <case>.out, <case>.g, <case>.grad_x
Run from repo root: /work/venv/bin/python tests/golden/pool.py
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


def case(name, shape, fn):
    # randn values are distinct almost surely -> no ties in max pooling
    x = torch.randn(*shape, dtype=DT, requires_grad=True)
    out = fn(x)
    g = torch.randn(out.shape, dtype=DT)
    (out * g).sum().backward()
    put(f"{name}.x", x); put(f"{name}.out", out); put(f"{name}.g", g); put(f"{name}.grad_x", x.grad)


case("max_k2s2", [2, 3, 8, 8], lambda x: F.max_pool2d(x, 2, 2, 0))
case("max_k3s2p1", [2, 3, 8, 8], lambda x: F.max_pool2d(x, 3, 2, 1))
case("avg_k2s2", [2, 3, 8, 8], lambda x: F.avg_pool2d(x, 2, 2))
case("avg_k3s2p1", [2, 3, 8, 8], lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=True))
case("adaptive_avg_3x3", [2, 3, 7, 7], lambda x: F.adaptive_avg_pool2d(x, (3, 3)))

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pool.json"), "w") as f:
    json.dump(OUT, f)
