"""Parameter names/shapes/counts of reference models + nn.init.calculate_gain values.
Output (not the tensor format):
  {"mlp": [[name, shape], ...], "mlp_count": N, "lenet": [...], "lenet_count": N,
   "gain": {"linear": g, "conv2d": g, "sigmoid": g, "tanh": g, "relu": g,
            "leaky_relu": g (param None -> slope 0.01), "leaky_relu_0.2": g, "selu": g}}
mlp   = Sequential(Linear(784,256), ReLU, Linear(256,128), ReLU, Linear(128,10))
lenet = Sequential(Conv2d(1,6,5,padding=2), ReLU, MaxPool2d(2), Conv2d(6,16,5), ReLU, MaxPool2d(2),
                   Flatten, Linear(400,120), ReLU, Linear(120,84), ReLU, Linear(84,10))
Names are named_parameters() order: "<index>.weight", "<index>.bias" (index = position in Sequential).
Run from repo root: /work/venv/bin/python tests/golden/init_names.py
"""
import json, os
import torch
import torch.nn as nn

torch.set_num_threads(1)
torch.manual_seed(0)

mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
lenet = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
# sanity: LeNet on 28x28 input gives 16*5*5 = 400 features
assert lenet(torch.zeros(1, 1, 28, 28)).shape == (1, 10)

G = nn.init.calculate_gain
OUT = {
    "mlp": [[n, list(p.shape)] for n, p in mlp.named_parameters()],
    "mlp_count": sum(p.numel() for p in mlp.parameters()),
    "lenet": [[n, list(p.shape)] for n, p in lenet.named_parameters()],
    "lenet_count": sum(p.numel() for p in lenet.parameters()),
    "gain": {
        "linear": float(G("linear")),
        "conv2d": float(G("conv2d")),
        "sigmoid": float(G("sigmoid")),
        "tanh": G("tanh"),
        "relu": G("relu"),
        "leaky_relu": G("leaky_relu"),
        "leaky_relu_0.2": G("leaky_relu", 0.2),
        "selu": G("selu"),
    },
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "init_names.json"), "w") as f:
    json.dump(OUT, f)
