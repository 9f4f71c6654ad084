"""Golden optimizer trajectories and LR schedules (float64).

Problem: p0 = [1.0, -2.0, 3.0]; loss = sum((p - c)^2 * s), c = [0.5, 0.5, -1.0], s = [1.0, 2.0, 3.0]
Each config: 3 iterations of (zero_grad, loss, backward, step); records <cfg>.step{1,2,3} = p after
each step and <cfg>.loss{1,2,3} = loss evaluated before that step.
Configs (anything unlisted is the PyTorch default):
  sgd                     SGD(lr=0.1)
  sgd_momentum            SGD(lr=0.1, momentum=0.9)
  sgd_nesterov_wd         SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
  sgd_momentum_dampening  SGD(lr=0.1, momentum=0.9, dampening=0.5)  (1st step: buf = grad, undampened)
  adam                    Adam(lr=0.1)  betas=(0.9,0.999) eps=1e-8
  adam_wd                 Adam(lr=0.1, weight_decay=0.01, amsgrad=False)  (L2: grad += wd*p)
  adamw                   AdamW(lr=0.1, weight_decay=0.01)  (decoupled: p *= 1 - lr*wd)
  rmsprop                 RMSprop(lr=0.01, alpha=0.99, eps=1e-8)
  rmsprop_momentum_centered RMSprop(lr=0.01, alpha=0.99, eps=1e-8, momentum=0.9, centered=True)
  adagrad                 Adagrad(lr=0.1)  lr_decay=0, initial_accumulator_value=0, eps=1e-10
LR schedules, optimizer SGD(lr=0.1) (momentum=0.9 for onecycle so cycle_momentum works):
  sched_step      StepLR(step_size=3, gamma=0.5)
  sched_exp       ExponentialLR(gamma=0.9)
  sched_cosine    CosineAnnealingLR(T_max=10, eta_min=0.001)   (epochs 10,11 go past T_max)
  sched_onecycle  OneCycleLR(max_lr=0.1, total_steps=12)  defaults: pct_start=0.3,
                  anneal_strategy='cos', div_factor=25, final_div_factor=1e4, three_phase=False,
                  cycle_momentum=True base_momentum=0.85 max_momentum=0.95
  <sched>.lr[i] = optimizer lr in effect during epoch/step i (i = 0..11), i.e. read before the
  i-th scheduler.step(); sched_onecycle.momentum likewise.
Run from repo root: /work/venv/bin/python tests/golden/optim.py
"""
import json, os
import torch

torch.set_num_threads(1)
torch.manual_seed(0)
DT = torch.float64
OUT = {}


def put(k, t):
    if not torch.is_tensor(t):
        t = torch.tensor(t, dtype=DT)
    t = t.detach().to(DT).contiguous()
    OUT[k] = {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


P0 = torch.tensor([1.0, -2.0, 3.0], dtype=DT)
C = torch.tensor([0.5, 0.5, -1.0], dtype=DT)
S = torch.tensor([1.0, 2.0, 3.0], dtype=DT)
put("p0", P0); put("c", C); put("s", S)

O = torch.optim
CONFIGS = {
    "sgd": lambda ps: O.SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: O.SGD(ps, lr=0.1, momentum=0.9),
    "sgd_nesterov_wd": lambda ps: O.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "sgd_momentum_dampening": lambda ps: O.SGD(ps, lr=0.1, momentum=0.9, dampening=0.5),
    "adam": lambda ps: O.Adam(ps, lr=0.1),
    "adam_wd": lambda ps: O.Adam(ps, lr=0.1, weight_decay=0.01, amsgrad=False),
    "adamw": lambda ps: O.AdamW(ps, lr=0.1, weight_decay=0.01),
    "rmsprop": lambda ps: O.RMSprop(ps, lr=0.01, alpha=0.99, eps=1e-8),
    "rmsprop_momentum_centered": lambda ps: O.RMSprop(ps, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.9, centered=True),
    "adagrad": lambda ps: O.Adagrad(ps, lr=0.1),
}
for name, mk in CONFIGS.items():
    p = P0.clone().requires_grad_(True)
    opt = mk([p])
    for i in range(1, 4):
        opt.zero_grad()
        loss = ((p - C) ** 2 * S).sum()
        loss.backward()
        opt.step()
        put(f"{name}.loss{i}", loss.item())
        put(f"{name}.step{i}", p)

S_ = O.lr_scheduler
SCHEDS = {
    "sched_step": (0.0, lambda o: S_.StepLR(o, step_size=3, gamma=0.5)),
    "sched_exp": (0.0, lambda o: S_.ExponentialLR(o, gamma=0.9)),
    "sched_cosine": (0.0, lambda o: S_.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    "sched_onecycle": (0.9, lambda o: S_.OneCycleLR(o, max_lr=0.1, total_steps=12)),
}
for name, (mom, mk) in SCHEDS.items():
    p = torch.zeros(1, dtype=DT, requires_grad=True)
    opt = O.SGD([p], lr=0.1, momentum=mom)
    sch = mk(opt)
    lrs, moms = [], []
    for i in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        if i < 11 or name != "sched_onecycle":
            sch.step()
    put(f"{name}.lr", lrs)
    if name == "sched_onecycle":
        put(f"{name}.momentum", moms)

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim.json"), "w") as f:
    json.dump(OUT, f)
