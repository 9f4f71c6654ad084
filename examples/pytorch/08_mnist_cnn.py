"""The PyTorch twin of examples/08_mnist_cnn.rs, for comparing accuracy and time.

Same data (the bundled 10 000 MNIST images: first 8 000 train, last 2 000 held out),
same standardization, same model, Adam lr 1e-3, batch 64, 5 epochs, 2 threads.

    python3 -m venv .venv && .venv/bin/pip install torch numpy
    .venv/bin/python examples/pytorch/08_mnist_cnn.py [--epochs 5] [--seed 0]
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    images = idx(os.path.join(ROOT, "data/mnist/t10k-images-idx3-ubyte.gz"))
    labels = idx(os.path.join(ROOT, "data/mnist/t10k-labels-idx1-ubyte.gz"))
    x = (torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 255.0 - 0.1307) / 0.3081
    y = torch.tensor(labels, dtype=torch.int64)
    xtr, ytr, xte, yte = x[:8000], y[:8000], x[8000:], y[8000:]
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(len(xtr))
        total = 0.0
        for i in range(0, len(xtr), 64):
            idx_ = perm[i:i + 64]
            loss = nn.functional.cross_entropy(model(xtr[idx_]), ytr[idx_])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx_)
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch}/{a.epochs}  train loss {total / len(xtr):.4f}  "
              f"held-out accuracy {100 * acc:.2f} %  ({time.perf_counter() - start:.1f} s)")
    print(f"result: accuracy={acc:.4f} epochs={a.epochs} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
