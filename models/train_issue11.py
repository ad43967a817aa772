#!/usr/bin/python3
"""Trains the four models of issue 11's Proof with PyTorch 1.13, exports them to ONNX, and writes the
calibration and evaluation data they need as .npy files cquant reads.

    /usr/bin/python3 models/train_issue11.py [--only NAME] [--out models/] [--seed 0]
    /usr/bin/python3 models/train_issue11.py --data-only --data DIR     (no training: the .npy files)

Every model is small (< 2 MB of ONNX, a few minutes on 2 cores) and training is deterministic given
--seed (one thread). Each model's float weights are also saved as NAME.pt (the PyTorch
state_dict the bench's PyTorch peers load; the ONNX files are exported from the same modules).

  fmnist_vit   ViT-style classifier on Fashion-MNIST: 7x7 patch embedding (16 tokens), learned
               position embedding, 4 pre-norm blocks (LayerNorm, 4-head attention, MLP with GELU),
               final LayerNorm, mean over tokens, linear head. Exported at opsets 13 and 17
               (fmnist_vit_op13.onnx, fmnist_vit_op17.onnx: opset 17 has LayerNormalization, 13
               spells it out with ReduceMean/Sub/Pow/Sqrt/Div).
  fmnist_mbv3  MobileNetV3-style CNN on Fashion-MNIST: strided stem, inverted residual blocks with
               depthwise convolutions, squeeze-excitation (HardSigmoid gate), HardSwish, global
               average pooling, HardSwish classifier. Opsets 13 and 17 (13 has no HardSwish op: torch
               writes HardSigmoid + Mul).
  Both take float32 N x 1 x 28 x 28, x = (pixel / 255 - MEAN) / STD as models/train.py does (metadata
  cquant.mean / cquant.std), and output logits N x 10.

  pystdlib_lm  causal character-level transformer language model (GPT-style: token + position
               embedding, 4 pre-norm blocks with a causal mask, LayerNorm, linear head) on the Python
               3.11 standard library sources (Debian packages libpython3.11-minimal and
               libpython3.11-stdlib: /usr/lib/python3.11/**/*.py, site/dist-packages excluded). Files
               are split by a CRC-32 of their path: 10% test, 10% validation, 80% training. Input:
               int64 ids N x 64 (the character table CHARS: printable ASCII, tab, newline; anything
               else is id 0); output logits N x 64 x 98 (position t predicts character t + 1).
               Metric: perplexity, exp of the mean cross-entropy of every position of every window.

  codelang_bert  BERT-style encoder classifier (token + position embeddings, embedding LayerNorm,
               2 post-norm blocks with GELU, tanh pooler on the [CLS] position). Task: which language
               a short snippet of source code is written in: Python (libpython3.11-stdlib), C
               (/usr/include: libc6-dev, linux-libc-dev), Perl (perl-modules-5.36: /usr/share/perl)
               or shell (the POSIX shell scripts under /usr/bin and /usr/sbin). A snippet is 8 to 64
               bytes cut at a random offset of a random file; the classes are balanced. It is a fair
               task: files are split between training and test by a hash of their path (no file, so no
               snippet, is in both), the snippet boundaries are random (no header or file position to
               key on), and the short ones are genuinely ambiguous, so fp32 top-1 stays well below 100%
               and quantization error shows. Inputs: input_ids int64 N x 65 ([CLS] = 1, padding = 0,
               byte b = b + 2) and attention_mask int64 N x 65 (1 = token, 0 = padding); output logits
               N x 4.

Data written by --data DIR (cquant ptq --calib / cquant run --input read them; nothing big is
committed): fmnist_test_x.npy (float32 10000 x 1 x 28 x 28, normalised), fmnist_test_y.npy,
fmnist_calib_x.npy (the first 2,000 training images), fmnist_val_{x,y}.npy (the last 2,000),
lm_calib.npy (256 x 64) / lm_val.npy / lm_test.npy (int64 windows of 65: inputs and next-character
targets), bert_{calib,val,test}_{ids,mask}.npy and bert_{val,test}_y.npy. The validation sets choose
the calibration method; the test sets measure.
"""
import argparse
import glob
import math
import os
import sys
import time
import zlib

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train as fm  # noqa: E402  (the Fashion-MNIST reader and its MEAN/STD)

MEAN, STD = fm.MEAN, fm.STD
CHARS = "\t\n" + "".join(chr(c) for c in range(32, 127))  # id 0: any other character
VOCAB = len(CHARS) + 1
LM_T = 64
BERT_T = 65
BERT_CLASSES = ["python", "c", "perl", "shell"]
N_CAL_IMG = 2000


# ---------------------------------------------------------------------------------------------- models

class MaskedSoftmax(nn.Module):
    """softmax(s + bias) over the last axis (bias: an additive mask, or None). A module of its own so
    that the bench's PyTorch FX peer can leave it in float, as cquant leaves Softmax by default (FX's
    HistogramObserver on the -1e4 mask sums asks for gigabytes)."""

    def forward(self, s, bias=None):
        if bias is not None:
            s = s + bias
        return torch.softmax(s, dim=-1)


class MaskBias(nn.Module):
    """The additive attention mask of a 0/1 int64 mask: (1 - mask) * -1e4, N x 1 x 1 x T."""

    def forward(self, mask):
        return (1.0 - mask.to(torch.float32)).unsqueeze(1).unsqueeze(2) * -1e4


class Attention(nn.Module):
    """Multi-head self-attention over a fixed number of tokens T (constant reshapes: the ONNX graph
    then carries constant shapes, and torch.fx can trace it). bias: an additive mask broadcast to
    N x H x T x T, or None."""

    def __init__(self, d, heads, t):
        super().__init__()
        self.h, self.t, self.hd = heads, t, d // heads
        self.q, self.k, self.v, self.proj = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.scale = 1.0 / math.sqrt(self.hd)
        self.softmax = MaskedSoftmax()

    def split(self, x):
        return x.reshape(-1, self.t, self.h, self.hd).transpose(1, 2)

    def forward(self, x, bias=None):
        q = self.split(self.q(x) * self.scale)
        k = self.split(self.k(x))
        v = self.split(self.v(x))
        o = torch.matmul(self.softmax(torch.matmul(q, k.transpose(-2, -1)), bias), v)
        return self.proj(o.transpose(1, 2).reshape(-1, self.t, self.h * self.hd))


class PreNormBlock(nn.Module):
    def __init__(self, d, heads, t, mlp):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(d, heads, t)
        self.fc1, self.act, self.fc2 = nn.Linear(d, mlp), nn.GELU(), nn.Linear(mlp, d)

    def forward(self, x, bias=None):
        x = x + self.attn(self.ln1(x), bias)
        return x + self.fc2(self.act(self.fc1(self.ln2(x))))


class ViT(nn.Module):
    def __init__(self, d=64, depth=4, heads=4, patch=7, mlp=128):
        super().__init__()
        self.t = (28 // patch) ** 2
        self.embed = nn.Conv2d(1, d, patch, stride=patch)
        self.pos = nn.Parameter(torch.zeros(1, self.t, d))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList([PreNormBlock(d, heads, self.t, mlp) for _ in range(depth)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln(x).mean(1))


class SE(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, c // r, 1), nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))


class InvertedResidual(nn.Module):
    def __init__(self, i, e, o, k, s, se, hs):
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        layers = []
        if e != i:
            layers += [nn.Conv2d(i, e, 1, bias=False), nn.BatchNorm2d(e), act()]
        layers += [nn.Conv2d(e, e, k, s, k // 2, groups=e, bias=False), nn.BatchNorm2d(e), act()]
        if se:
            layers.append(SE(e))
        layers += [nn.Conv2d(e, o, 1, bias=False), nn.BatchNorm2d(o)]
        self.body = nn.Sequential(*layers)
        self.res = s == 1 and i == o

    def forward(self, x):
        y = self.body(x)
        return x + y if self.res else y


class MobileNetV3(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())  # 14 x 14
        cfg = [(16, 16, 16, 3, 1, True, False), (16, 64, 24, 3, 2, False, False), (24, 72, 24, 3, 1, False, False),
               (24, 96, 40, 5, 1, True, True), (40, 120, 40, 3, 1, True, True), (40, 120, 48, 3, 1, True, True)]
        self.blocks = nn.Sequential(*[InvertedResidual(*c) for c in cfg])  # 7 x 7
        self.last = nn.Sequential(nn.Conv2d(48, 144, 1, bias=False), nn.BatchNorm2d(144), nn.Hardswish())
        self.fc1, self.act, self.fc2 = nn.Linear(144, 128), nn.Hardswish(), nn.Linear(128, 10)

    def forward(self, x):
        x = self.last(self.blocks(self.stem(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc2(self.act(self.fc1(x)))


class CharLM(nn.Module):
    def __init__(self, d=64, depth=4, heads=4, mlp=256, t=LM_T):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(torch.zeros(1, t, d))
        nn.init.normal_(self.pos, std=0.02)
        # additive causal mask, N x H broadcast: 0 on and below the diagonal, -1e4 above
        self.register_buffer("causal", torch.triu(torch.full((t, t), -1e4), 1)[None, None])
        self.blocks = nn.ModuleList([PreNormBlock(d, heads, t, mlp) for _ in range(depth)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB)

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        for b in self.blocks:
            x = b(x, self.causal)
        return self.head(self.ln(x))


class PostNormBlock(nn.Module):
    def __init__(self, d, heads, t, mlp):
        super().__init__()
        self.attn = Attention(d, heads, t)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.fc1, self.act, self.fc2 = nn.Linear(d, mlp), nn.GELU(), nn.Linear(mlp, d)

    def forward(self, x, bias):
        x = self.ln1(x + self.attn(x, bias))
        return self.ln2(x + self.fc2(self.act(self.fc1(x))))


class Bert(nn.Module):
    def __init__(self, d=64, depth=2, heads=4, mlp=128, t=BERT_T, classes=len(BERT_CLASSES)):
        super().__init__()
        self.tok = nn.Embedding(258, d)
        self.pos = nn.Parameter(torch.zeros(1, t, d))
        nn.init.normal_(self.pos, std=0.02)
        self.ln = nn.LayerNorm(d)
        self.blocks = nn.ModuleList([PostNormBlock(d, heads, t, mlp) for _ in range(depth)])
        self.maskbias = MaskBias()
        self.pool = nn.Linear(d, d)
        self.cls = nn.Linear(d, classes)

    def forward(self, input_ids, attention_mask):
        bias = self.maskbias(attention_mask)
        x = self.ln(self.tok(input_ids) + self.pos)
        for b in self.blocks:
            x = b(x, bias)
        return self.cls(torch.tanh(self.pool(x[:, 0])))


MODELS = {"fmnist_vit": ViT, "fmnist_mbv3": MobileNetV3, "pystdlib_lm": CharLM, "codelang_bert": Bert}


# ------------------------------------------------------------------------------------------------ data

def split_of(path):
    """'test' (10%), 'val' (10%) or 'train' by a CRC-32 of the path: a whole file is in one split."""
    h = zlib.crc32(path.encode()) % 10
    return "test" if h == 0 else "val" if h == 1 else "train"


def encode_text(s):
    table = np.zeros(256, np.int64)
    for i, c in enumerate(CHARS):
        table[ord(c)] = i + 1
    b = np.frombuffer(s.encode("latin-1", "replace"), np.uint8)
    return table[b]


def lm_corpus(split):
    """The Python standard library sources of one split, concatenated in path order, as ids."""
    files = sorted(f for f in glob.glob("/usr/lib/python3.11/**/*.py", recursive=True)
                   if "-packages/" not in f and split_of(f) == split)
    parts = []
    for f in files:
        with open(f, "rb") as fh:
            parts.append(fh.read().decode("utf-8", "replace"))
    return encode_text("\n".join(parts).encode("ascii", "replace").decode("ascii"))


def lm_windows(ids, n, t=LM_T):
    """n non-overlapping windows of t + 1 ids spread evenly over the corpus: N x (t + 1)."""
    step = (len(ids) - t - 1) // n
    return np.stack([ids[i * step:i * step + t + 1] for i in range(n)])


def shell_scripts():
    out = []
    for d in ("/usr/bin", "/usr/sbin"):
        for f in sorted(os.listdir(d)):
            p = os.path.join(d, f)
            try:
                if os.path.isfile(p) and not os.path.islink(p):
                    with open(p, "rb") as fh:
                        head = fh.read(32)
                    if head.startswith((b"#!/bin/sh", b"#! /bin/sh", b"#!/bin/bash", b"#!/usr/bin/env bash", b"#!/usr/bin/env sh")):
                        out.append(p)
            except OSError:
                pass
    return out


def code_files():
    py = sorted(f for f in glob.glob("/usr/lib/python3.11/**/*.py", recursive=True) if "-packages/" not in f)
    c = sorted(glob.glob("/usr/include/**/*.h", recursive=True))[::8]  # every 8th: ~2,000 headers
    pl = sorted(glob.glob("/usr/share/perl/**/*.pm", recursive=True))
    sh = shell_scripts()
    return [py, c, pl, sh]


# Evaluation snippets of the BERT-style model: top-1s of int8 variants differ from fp32 on 1-3% of
# snippets, so at 4,000 a difference of 0.2-0.4 point between two quantizers was within noise; at
# 20,000 (the first 4,000 being the former test set) the standard error of such a difference is
# about 0.1 point. The validation set, which chooses the calibration method, is 4,000.
BERT_N_VAL, BERT_N_TEST = 4000, 20000


def bert_snippets(split, n, seed):
    """n balanced (ids, mask, label) snippets of 8..64 bytes from the files of one split."""
    rng = np.random.default_rng(seed)
    texts = []
    for files in code_files():
        blobs = []
        for f in files:
            if split_of(f) != (split if split in ("test", "val") else "train"):  # calibration: training files
                continue
            with open(f, "rb") as fh:
                b = fh.read(65536)
            if len(b) >= 64:
                blobs.append(b)
        texts.append(blobs)
    ids = np.zeros((n, BERT_T), np.int64)
    mask = np.zeros((n, BERT_T), np.int64)
    y = np.arange(n, dtype=np.int64) % len(texts)
    for i in range(n):
        blobs = texts[y[i]]
        b = blobs[rng.integers(len(blobs))]
        ln = int(rng.integers(8, 65))
        o = int(rng.integers(0, len(b) - ln + 1))
        s = np.frombuffer(b[o:o + ln], np.uint8).astype(np.int64) + 2
        ids[i, 0], ids[i, 1:1 + ln] = 1, s
        mask[i, :1 + ln] = 1
    return ids, mask, y


def fmnist_arrays():
    xtr, ytr = fm.load("train")
    xte, yte = fm.load("test")
    return xtr, ytr, xte, yte


def write_data(d):
    """The calibration and evaluation .npy files of every model (see the module docstring)."""
    os.makedirs(d, exist_ok=True)
    xtr, _, xte, yte = fmnist_arrays()
    np.save(os.path.join(d, "fmnist_calib_x.npy"), xtr[:N_CAL_IMG].numpy())
    np.save(os.path.join(d, "fmnist_test_x.npy"), xte.numpy())
    np.save(os.path.join(d, "fmnist_test_y.npy"), yte.numpy())
    xtr, ytr = fm.load("train")
    np.save(os.path.join(d, "fmnist_val_x.npy"), xtr[-2000:].numpy())  # the last 2,000 training images: method choice
    np.save(os.path.join(d, "fmnist_val_y.npy"), ytr[-2000:].numpy())
    tr = lm_corpus("train")
    np.save(os.path.join(d, "lm_calib.npy"), lm_windows(tr, 256)[:, :LM_T])
    np.save(os.path.join(d, "lm_val.npy"), lm_windows(lm_corpus("val"), 256))  # N x 65: inputs and targets
    np.save(os.path.join(d, "lm_test.npy"), lm_windows(lm_corpus("test"), 512))
    ids, mask, _ = bert_snippets("train", 512, 7)
    np.save(os.path.join(d, "bert_calib_ids.npy"), ids)
    np.save(os.path.join(d, "bert_calib_mask.npy"), mask)
    ids, mask, y = bert_snippets("val", BERT_N_VAL, 5)
    np.save(os.path.join(d, "bert_val_ids.npy"), ids)
    np.save(os.path.join(d, "bert_val_mask.npy"), mask)
    np.save(os.path.join(d, "bert_val_y.npy"), y)
    ids, mask, y = bert_snippets("test", BERT_N_TEST, 3)
    np.save(os.path.join(d, "bert_test_ids.npy"), ids)
    np.save(os.path.join(d, "bert_test_mask.npy"), mask)
    np.save(os.path.join(d, "bert_test_y.npy"), y)
    print(f"wrote the calibration and evaluation data to {d}", flush=True)


# -------------------------------------------------------------------------------------------- training

def train_loop(model, steps, lr, batch_fn, loss_fn, name, log_every):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    t0 = time.time()
    model.train()
    for s in range(steps):
        loss = loss_fn(model, *batch_fn(s))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if (s + 1) % log_every == 0 or s + 1 == steps:
            print(f"{name} step {s + 1}/{steps}: loss {loss.item():.3f} ({time.time() - t0:.0f} s)", flush=True)
    model.eval()


def ce(model, x, y):
    return F.cross_entropy(model(x), y)


def lm_loss(model, w):
    logits = model(w[:, :-1])
    return F.cross_entropy(logits.reshape(-1, VOCAB), w[:, 1:].reshape(-1))


def lm_perplexity(logits, w):
    """exp of the mean cross-entropy over every position: logits N x T x V, windows N x (T + 1)."""
    logits = torch.as_tensor(logits, dtype=torch.float64)
    return math.exp(F.cross_entropy(logits.reshape(-1, VOCAB), torch.as_tensor(w[:, 1:]).reshape(-1)).item())


def bert_loss(model, ids, mask, y):
    return F.cross_entropy(model(ids, mask), y)


def fit(name, seed, quick):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    model = MODELS[name]()
    if name in ("fmnist_vit", "fmnist_mbv3"):
        xtr, ytr, xte, yte = fmnist_arrays()
        bs = 64 if name == "fmnist_vit" else 128
        steps = 700 if name == "fmnist_vit" else 938  # about 0.75 and 2 epochs: a few minutes on one core
        per = (len(xtr) + bs - 1) // bs
        perm = [None]

        def batch(s):
            if s % per == 0:
                perm[0] = torch.randperm(len(xtr), generator=g)
            i = perm[0][(s % per) * bs:(s % per + 1) * bs]
            xb = xtr[i]
            flip = torch.rand(len(i), generator=g) < 0.5  # horizontal flips
            return torch.where(flip[:, None, None, None], xb.flip(3), xb), ytr[i]

        train_loop(model, 20 if quick else steps, 3e-3 if name == "fmnist_vit" else 4e-3, batch, ce, name, 100)
        with torch.no_grad():
            acc = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item() for i in range(0, len(xte), 1000)) / len(xte)
        return model, {"cquant.mean": f"{MEAN}", "cquant.std": f"{STD}", "cquant.dataset": "fashion-mnist",
                       "cquant.fp32_top1": f"{100 * acc:.2f}"}, f"test top-1 {100 * acc:.2f}%"
    if name == "pystdlib_lm":
        tr = torch.from_numpy(lm_corpus("train"))
        te = lm_windows(lm_corpus("test"), 512)
        steps = 20 if quick else 600

        def batch(s):
            o = torch.randint(0, len(tr) - LM_T - 1, (32,), generator=g)
            return (torch.stack([tr[i:i + LM_T + 1] for i in o.tolist()]),)

        train_loop(model, steps, 3e-3, batch, lm_loss, name, 100)
        with torch.no_grad():
            ppl = lm_perplexity(torch.cat([model(torch.from_numpy(te[i:i + 128, :-1])) for i in range(0, len(te), 128)]), te)
        return model, {"cquant.dataset": "python3.11 stdlib sources (libpython3.11-minimal, libpython3.11-stdlib)",
                       "cquant.chars": CHARS, "cquant.fp32_perplexity": f"{ppl:.4f}"}, f"test perplexity {ppl:.3f}"
    ids, mask, y = (torch.from_numpy(a) for a in bert_snippets("train", 4000 if quick else 60000, 11))
    ti, tm, ty = (torch.from_numpy(a) for a in bert_snippets("test", 4000, 3))
    steps = 20 if quick else 500

    def batch(s):
        i = torch.randint(0, len(ids), (64,), generator=g)
        return ids[i], mask[i], y[i]

    train_loop(model, steps, 2e-3, batch, bert_loss, name, 100)
    with torch.no_grad():
        acc = (model(ti, tm).argmax(1) == ty).float().mean().item()
    return model, {"cquant.dataset": "code language of 8..64-byte snippets: " + ",".join(BERT_CLASSES),
                   "cquant.fp32_top1": f"{100 * acc:.2f}"}, f"test top-1 {100 * acc:.2f}%"


def export(model, name, opset, meta, out):
    fn = os.path.join(out, f"{name}_op{opset}.onnx" if name.startswith("fmnist") else f"{name}.onnx")
    if name.startswith("fmnist"):
        args, ins, outs = (torch.zeros(1, 1, 28, 28),), ["input"], ["logits"]
    elif name == "pystdlib_lm":
        args, ins, outs = (torch.zeros(1, LM_T, dtype=torch.int64),), ["ids"], ["logits"]
    else:
        args, ins, outs = (torch.ones(1, BERT_T, dtype=torch.int64), torch.ones(1, BERT_T, dtype=torch.int64)), \
            ["input_ids", "attention_mask"], ["logits"]
    axes = {n: {0: "N"} for n in ins + outs}
    torch.onnx.export(model, args, fn, opset_version=opset, input_names=ins, output_names=outs, dynamic_axes=axes,
                      do_constant_folding=True)
    m = onnx.load(fn)
    for k, v in list(meta.items()) + [("cquant.trained_with", f"torch {torch.__version__}, models/train_issue11.py")]:
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, fn)
    return fn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=list(MODELS))
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a few steps only (to check the script, not for use)")
    ap.add_argument("--data", help="also write the calibration and evaluation .npy files to this folder")
    ap.add_argument("--data-only", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)  # one thread: deterministic, and faster than two on a loaded machine
    torch.use_deterministic_algorithms(True)
    if a.data:
        write_data(a.data)
    if a.data_only:
        return
    for name in [a.only] if a.only else list(MODELS):
        t0 = time.time()
        model, meta, line = fit(name, a.seed, a.quick)
        torch.save(model.state_dict(), os.path.join(a.out, name + ".pt"))
        files = [export(model, name, op, meta, a.out) for op in ((13, 17) if name.startswith("fmnist") else (17,))]
        print(f"{name}: {line}, {time.time() - t0:.0f} s; " + ", ".join(f"{f} ({os.path.getsize(f)} bytes)" for f in files), flush=True)


if __name__ == "__main__":
    main()
