#!/usr/bin/python3
"""Trains cquant's demo classifiers on Fashion-MNIST with PyTorch and exports them to ONNX.

    /usr/bin/python3 models/train.py [--epochs N] [--out models/] [--only NAME] [--threads T]

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, gzip IDX files).
Input: float32 N x 1 x 28 x 28, x = (pixel / 255 - MEAN) / STD; MEAN and STD are stored in the
model's metadata_props ("cquant.mean", "cquant.std"), where cquant ptq and cquant eval read them.

  fmnist_cnn     conv-relu-pool x2, two fully connected layers (the default model)
  fmnist_resnet  BatchNorm, depthwise-separable residual blocks with Add, strided convs, global
                 average pooling: the harder one (BatchNorm is kept in the ONNX file; cquant folds it)
  fmnist_mobilenet  MobileNetV2-style: inverted residual blocks (1x1 expansion, depthwise 3x3,
                 linear 1x1 projection, identity Add), BatchNorm and ReLU6 (Clip 0..6 in ONNX)
"""
import argparse
import gzip
import os
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530
DATA = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


def load(split):
    p = "train" if split == "train" else "t10k"
    x = idx(f"{DATA}/{p}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = idx(f"{DATA}/{p}-labels-idx1-ubyte.gz").astype(np.int64)
    return torch.from_numpy((x - MEAN) / STD).unsqueeze(1), torch.from_numpy(y)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


class Block(nn.Module):
    """Depthwise 3x3 - BN - ReLU - pointwise 1x1 - BN, plus the identity, then ReLU."""

    def __init__(self, c):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.pw = nn.Conv2d(c, c, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.dw(x)))
        return F.relu(x + self.bn2(self.pw(y)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        def cbr(i, o, s):
            return nn.Sequential(nn.Conv2d(i, o, 3, stride=s, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())
        self.stem = cbr(1, 32, 1)
        self.b1 = Block(32)
        self.d2 = cbr(32, 64, 2)
        self.b2 = Block(64)
        self.d3 = cbr(64, 128, 2)
        self.b3 = Block(128)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.b1(self.stem(x))
        x = self.b2(self.d2(x))
        x = self.b3(self.d3(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expansion (t > 1) - BN - ReLU6, depthwise 3x3 (stride s) - BN - ReLU6,
    linear 1x1 projection - BN, plus the input when the shape is kept."""

    def __init__(self, i, o, s, t):
        super().__init__()
        h = i * t
        layers = []
        if t != 1:
            layers += [nn.Conv2d(i, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6()]
        layers += [nn.Conv2d(h, h, 3, stride=s, padding=1, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
                   nn.Conv2d(h, o, 1, bias=False), nn.BatchNorm2d(o)]
        self.conv = nn.Sequential(*layers)
        self.res = s == 1 and i == o

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.res else y


class MobileNet(nn.Module):
    """A MobileNetV2-style network for 28 x 28 images, kept small so that QAT runs of it stay short
    on two cores: a strided stem (28 -> 14), inverted residuals (expansion 4) down to 7 x 7, a 1x1
    head to 128 channels, global average pooling, one linear layer."""

    def __init__(self):
        super().__init__()
        cfg = [(16, 16, 1, 1), (16, 24, 2, 4), (24, 24, 1, 4), (24, 32, 1, 4), (32, 32, 1, 4)]
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.blocks = nn.Sequential(*[InvertedResidual(*c) for c in cfg])
        self.head = nn.Sequential(nn.Conv2d(32, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU6())
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


MODELS = {"fmnist_cnn": CNN, "fmnist_resnet": ResNet, "fmnist_mobilenet": MobileNet}


def accuracy(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def train(model, name, epochs, out, xtr, ytr, xte, yte):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = epochs * ((len(xtr) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    g = torch.Generator().manual_seed(1)
    for ep in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), 128):
            idx_ = perm[i:i + 128]
            xb = xtr[idx_]
            flip = torch.rand(len(idx_), generator=g) < 0.5  # horizontal flips
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.cross_entropy(model(xb), ytr[idx_])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"{name} epoch {ep + 1}/{epochs}: loss {loss.item():.3f}, test top-1 {100 * accuracy(model, xte, yte):.2f}% "
              f"({time.time() - t0:.0f} s)", flush=True)
    acc = accuracy(model, xte, yte)
    model.eval()
    path = os.path.join(out, name + ".onnx")
    # PRESERVE keeps BatchNormalization nodes (inference form, the modules are in eval mode) instead
    # of folding them at export, so cquant's own folding is exercised on a real exported graph.
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    m = onnx.load(path)
    for k, v in (("cquant.mean", f"{MEAN}"), ("cquant.std", f"{STD}"), ("cquant.dataset", "fashion-mnist"),
                 ("cquant.fp32_top1", f"{100 * acc:.2f}"), ("cquant.trained_with", f"torch {torch.__version__}")):
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, path)
    print(f"{name}: fp32 test top-1 {100 * acc:.2f}%, {os.path.getsize(path)} bytes -> {path}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--only", choices=sorted(MODELS))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="PyTorch threads (1 on a loaded machine: OpenMP's barriers wait on descheduled threads)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    xtr, ytr = load("train")
    xte, yte = load("test")
    for name, cls in MODELS.items():
        if a.only and a.only != name:
            continue
        torch.manual_seed(0)
        train(cls(), name, a.epochs, a.out, xtr, ytr, xte, yte)


if __name__ == "__main__":
    main()
