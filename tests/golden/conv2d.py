"""Golden values for convolutions (float64).

Cases:
  a: conv2d x[2,4,9,9] w[6,2,3,3] b[6] stride 2 padding 1 dilation 2 groups 2; out + grads of sum(out*g)
  b: conv2d x[2,3,7,7] w[5,3,3,3] b[5] stride 1 padding 1; out + grads
  c: conv1d x[2,4,11] w[6,2,3] b[6] stride 2 padding 1 dilation 1 groups 2; out + grads
  d: conv_transpose2d x[2,4,5,5] w[4,3,3,3] b[3] stride 2 padding 1 output_padding 1; out + grads
Run from repo root: /work/venv/bin/python tests/golden/conv2d.py
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


def case(name, fn, xs, ws, bs, cfg):
    x = torch.randn(*xs, dtype=DT, requires_grad=True)
    w = torch.randn(*ws, dtype=DT, requires_grad=True)
    b = torch.randn(*bs, dtype=DT, requires_grad=True)
    out = fn(x, w, b, **cfg)
    g = torch.randn(out.shape, dtype=DT)
    (out * g).sum().backward()
    for k, v in [("x", x), ("w", w), ("b", b), ("out", out), ("g", g),
                 ("grad_x", x.grad), ("grad_w", w.grad), ("grad_b", b.grad)]:
        put(f"{name}.{k}", v)
    for k, v in cfg.items():
        put(f"{name}.{k}", float(v))


case("a", F.conv2d, [2, 4, 9, 9], [6, 2, 3, 3], [6], dict(stride=2, padding=1, dilation=2, groups=2))
case("b", F.conv2d, [2, 3, 7, 7], [5, 3, 3, 3], [5], dict(stride=1, padding=1, dilation=1, groups=1))
case("c", F.conv1d, [2, 4, 11], [6, 2, 3], [6], dict(stride=2, padding=1, dilation=1, groups=2))
case("d", F.conv_transpose2d, [2, 4, 5, 5], [4, 3, 3, 3], [3],
     dict(stride=2, padding=1, output_padding=1, groups=1, dilation=1))

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv2d.json"), "w") as f:
    json.dump(OUT, f)
