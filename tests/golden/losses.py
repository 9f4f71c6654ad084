"""Golden values for losses (float64). Every case stores its inputs, `out`, and `grad`
(= d out.sum() / d first_input, i.e. gradient of the (reduced) loss; for reduction='none'
the gradient of out.sum()).

Cases (key prefix):
  ce_mean / ce_sum / ce_none: cross_entropy(logits[5,7], target int[5]) reductions mean/sum/none
  ce_ls01:      cross_entropy(..., label_smoothing=0.1), mean
                loss_i = (1-eps)*(-logp[i,y_i]) + eps/C * sum_c(-logp[i,c])
  ce_prob:      cross_entropy(logits[5,7], probs[5,7] (rows sum to 1)), mean over batch
  ce_extreme:   cross_entropy(logits[3,3] with +-1e4/0 entries, target [0,1,0]), mean
  log_softmax_extreme: log_softmax(x, -1) on [[1e4,-1e4,0],[0,0,0],[-1e4,-1e4,1e4]],
                grad of sum(out*g)
  nll_mean / nll_sum: nll_loss(log_softmax(logits), target) -- input is logp itself
  mse_mean / mse_sum / mse_none, l1_mean / l1_none
  huber_d1 / huber_d05: huber_loss(input, target, delta=1.0 / 0.5), mean
  smooth_l1_b05: smooth_l1_loss(beta=0.5), mean  (= huber(delta=0.5)/0.5)
  bce_mean / bce_none: binary_cross_entropy(sigmoid-ish probs in (0,1), target in [0,1])
  bcel_mean / bcel_none: binary_cross_entropy_with_logits(logits incl +-1e4, target in [0,1])
Integer targets are stored as float class indices.
Run from repo root: /work/venv/bin/python tests/golden/losses.py
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


def run(name, fn, inp, *others, g=None, **extra):
    x = inp.detach().clone().requires_grad_(True)
    out = fn(x, *others)
    if g is None:
        out.sum().backward()
    else:
        (out * g).sum().backward()
        put(f"{name}.g", g)
    put(f"{name}.input", inp)
    for i, o in enumerate(others):
        put(f"{name}.target" if i == 0 else f"{name}.other{i}", o)
    put(f"{name}.out", out)
    put(f"{name}.grad", x.grad)
    for k, v in extra.items():
        put(f"{name}.{k}", float(v))


logits = torch.randn(5, 7, dtype=DT) * 2
target = torch.tensor([0, 3, 6, 2, 3])
run("ce_mean", lambda x, t: F.cross_entropy(x, t, reduction="mean"), logits, target)
run("ce_sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"), logits, target)
run("ce_none", lambda x, t: F.cross_entropy(x, t, reduction="none"), logits, target)
run("ce_ls01", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), logits, target, label_smoothing=0.1)
probs = torch.softmax(torch.randn(5, 7, dtype=DT), dim=-1)
run("ce_prob", lambda x, t: F.cross_entropy(x, t), logits, probs)

ext = torch.tensor([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0], [-1e4, -1e4, 1e4]], dtype=DT)
run("ce_extreme", lambda x, t: F.cross_entropy(x, t), ext, torch.tensor([0, 1, 0]))
run("log_softmax_extreme", lambda x: F.log_softmax(x, dim=-1), ext, g=torch.randn(3, 3, dtype=DT))

logp = torch.log_softmax(logits, dim=-1)
run("nll_mean", lambda x, t: F.nll_loss(x, t), logp, target)
run("nll_sum", lambda x, t: F.nll_loss(x, t, reduction="sum"), logp, target)

a = torch.randn(4, 5, dtype=DT) * 1.5
b = torch.randn(4, 5, dtype=DT) * 1.5
run("mse_mean", lambda x, t: F.mse_loss(x, t), a, b)
run("mse_sum", lambda x, t: F.mse_loss(x, t, reduction="sum"), a, b)
run("mse_none", lambda x, t: F.mse_loss(x, t, reduction="none"), a, b)
run("l1_mean", lambda x, t: F.l1_loss(x, t), a, b)
run("l1_none", lambda x, t: F.l1_loss(x, t, reduction="none"), a, b)
run("huber_d1", lambda x, t: F.huber_loss(x, t, delta=1.0), a, b, delta=1.0)
run("huber_d05", lambda x, t: F.huber_loss(x, t, delta=0.5), a, b, delta=0.5)
run("smooth_l1_b05", lambda x, t: F.smooth_l1_loss(x, t, beta=0.5), a, b, beta=0.5)

p = torch.rand(4, 5, dtype=DT) * 0.98 + 0.01
y = torch.rand(4, 5, dtype=DT)
y[0] = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5], dtype=DT)
run("bce_mean", lambda x, t: F.binary_cross_entropy(x, t), p, y)
run("bce_none", lambda x, t: F.binary_cross_entropy(x, t, reduction="none"), p, y)
z = torch.randn(4, 5, dtype=DT) * 3
z[0] = torch.tensor([1e4, -1e4, 1e4, -1e4, 0.0], dtype=DT)  # y[0] = 0,1,0,1,0.5 -> loss 1e4 on mismatches
run("bcel_mean", lambda x, t: F.binary_cross_entropy_with_logits(x, t), z, y)
run("bcel_none", lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"), z, y)

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses.json"), "w") as f:
    json.dump(OUT, f)
