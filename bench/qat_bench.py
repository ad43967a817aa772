#!/usr/bin/python3
"""The proof table of issue 12: top-1 on the Fashion-MNIST test set (10,000 images unless --test N)
of fp32, cquant PTQ, cquant QAT (STE), cquant QAT (LSQ) and PyTorch 1.13 QAT (prepare_qat_fx,
FakeQuantize with the same bit widths, the same data, optimizer, schedule and samples) at
w8a8/w4a8/w2a8/w4a4, and seconds per epoch of training beside PyTorch's in the same run.

    /usr/bin/python3 bench/qat_bench.py [--cquant build/cquant] [--models fmnist_cnn,fmnist_resnet,fmnist_mobilenet]
        [--settings w8a8,w4a8,w2a8,w4a4] [--train N | --train MODEL=N,...] [--epochs E] [--test N] [--threads T]

--train takes one count for every model or MODEL=N pairs (models not named: 60,000), so that a
short run can give the slower models fewer images. --lr takes one rate, optionally followed by
SETTING=LR overrides (e.g. 1e-4,w2a8=1e-3); PyTorch gets the same rate as cquant.

--speed R: seconds per epoch only, for each model and setting: R rounds that alternate a timed run
of --speed-steps training steps of cquant (STE, then LSQ) and of PyTorch on the same batches, the
medians scaled to 60,000 images (robust on a shared machine: both sides see the same load).

cquant's files are measured in ONNX Runtime (onnxruntime-node; graph optimizations "basic" for
4-bit activations, whose QDQ fusion ONNX Runtime 1.20 lacks, and for every file on an x86 CPU without
VNNI, where ORT's fused int8 kernels saturate on 8-bit weights (tests/ort_cpu.py): "basic" runs the
QDQ nodes as written, exactly). PTQ: `cquant ptq --act-method all`
(best method chosen on the first 2,000 test images) for int8/int4 weights; `cquant qat --ptq-only` (calibrated
ranges, MSE weight clipping) for w2a8 and w4a4, which `cquant ptq` cannot write. Seconds per
epoch are extrapolated to 60,000 images from the --train samples timed.
"""
import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import paired_stats as ps  # noqa: E402
from ort_cpu import EXACT as ORT_INT8_EXACT  # noqa: E402  (whether ORT's optimized int8 kernels compute exactly here)
DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.286, 0.353


def idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


def ort_top1(model, n, act4, labels, correct=None):
    """Top-1 (%) of model in ONNX Runtime on the first n test images; correct (a dict), when given,
    gets correct[model] = one boolean per image (for the paired comparison with PyTorch)."""
    sys.argv = [sys.argv[0], "unused"]
    import qat_test  # the ONNX Runtime runner of the tests
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "tools/ort/node_modules"))
        level = "basic" if act4 or not ORT_INT8_EXACT else "all"
        r = subprocess.run(["node", "-e", qat_test.ORT_JS, model, str(n), level, f.name, str(MEAN), str(STD)],
                           capture_output=True, text=True, env=env)
        if r.returncode:
            return float("nan")
        p = np.fromfile(f.name, np.uint8)
    if correct is not None:
        correct[model] = p == labels[:n]
    return 100.0 * float((p == labels[:n]).mean())


def torch_model(model_name):
    """The PyTorch module of a shipped model (models/train.py) with the ONNX file's weights."""
    import importlib.util
    import onnx
    import torch
    from onnx import numpy_helper
    spec = importlib.util.spec_from_file_location("train", os.path.join(ROOT, "models/train.py"))
    tr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tr)
    m = tr.MODELS[model_name]()
    sd = {i.name: torch.tensor(numpy_helper.to_array(i).copy()) for i in onnx.load(os.path.join(ROOT, "models", model_name + ".onnx")).graph.initializer}
    m.load_state_dict({k: sd[k] for k in m.state_dict() if k in sd}, strict=False)
    return m


def torch_prepare(model_name, wb, ab, example):
    import torch
    from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver, QConfig, QConfigMapping
    from torch.ao.quantization.quantize_fx import prepare_qat_fx
    m = torch_model(model_name)
    wq = FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver, quant_min=-(2 ** (wb - 1) - 1), quant_max=2 ** (wb - 1) - 1,
                                dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
    aq = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=2 ** ab - 1, dtype=torch.quint8,
                                qscheme=torch.per_tensor_affine)
    m.train()
    return prepare_qat_fx(m, QConfigMapping().set_global(QConfig(activation=aq, weight=wq)), example_inputs=(example,))


def torch_speed(model_name, wb, ab, a, steps):
    """Seconds for `steps` PyTorch QAT training steps on the first images (as cquant's timed epoch)."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load("train", steps * a.batch)
    qm = torch_prepare(model_name, wb, ab, xtr[:2])
    opt = torch.optim.AdamW(qm.parameters(), lr=a.lr, weight_decay=0.0)
    t0 = time.time()
    for k in range(steps):
        j = slice(k * a.batch, (k + 1) * a.batch)
        loss = F.cross_entropy(qm(xtr[j]), ytr[j])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.time() - t0


def speed(a):
    """The s/epoch table: rounds alternating cquant STE, cquant LSQ and PyTorch on the same steps."""
    import statistics
    steps, per_epoch = a.speed_steps, 60000 / a.batch
    print(f"# seconds per epoch (60,000 images, batch {a.batch}, {a.threads} threads): medians of {a.speed} rounds of {steps} steps, "
          f"cquant and PyTorch {__import__('torch').__version__} alternating")
    print(f"{'model':16} {'setting':8} {'cquant STE':>10} {'cquant LSQ':>10} {'PyTorch':>8} {'PyTorch/STE':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.models.split(","):
            path = os.path.join(ROOT, "models", model + ".onnx")
            for s in a.settings.split(","):
                wb, ab = map(int, re.match(r"w(\d)a(\d)", s).groups())
                t = {"ste": [], "lsq": [], "torch": []}
                for _ in range(a.speed):
                    for mode in ("ste", "lsq"):  # an epoch of `steps` steps: the time printed covers the steps only
                        args = ["qat", path, "--data", f"fashion-mnist:train:{steps * a.batch}", "-o", os.path.join(tmp, "s.onnx"),
                                "--weights", f"int{wb}", "--act", f"int{ab}", "--batch", str(a.batch), "--threads", str(a.threads),
                                "--lr", str(a.lr), "--calib-samples", "256"] + (["--lsq"] if mode == "lsq" else [])
                        r, _ = cq(a, *args)
                        m = re.search(r"([0-9.]+) s per epoch", r.stdout)
                        if r.returncode or not m:
                            print(f"# {model} {s} {mode}: {failure(r)}")
                            continue
                        t[mode].append(float(m.group(1)) / steps * per_epoch)
                    t["torch"].append(torch_speed(model, wb, ab, a, steps) / steps * per_epoch)
                med = {k: statistics.median(v) if v else float("nan") for k, v in t.items()}
                print(f"{model:16} {s:8} {med['ste']:10.1f} {med['lsq']:10.1f} {med['torch']:8.1f} {med['torch'] / med['ste']:10.2f}x")
                sys.stdout.flush()


def torch_qat(model_name, wb, ab, a, n_train, lr):
    """PyTorch 1.13 QAT of the same model and weights; returns (top-1, seconds per epoch, one boolean
    per test image: correct)."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load("train", n_train)
    xte, yte = load("test", a.test)
    qm = torch_prepare(model_name, wb, ab, xtr[:2])
    opt = torch.optim.AdamW(qm.parameters(), lr=lr, weight_decay=0.0)
    steps = a.epochs * ((len(xtr) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    g = torch.Generator().manual_seed(a.seed)
    t0 = time.time()
    for _ in range(a.epochs):
        qm.train()
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), a.batch):
            j = perm[i:i + a.batch]
            loss = F.cross_entropy(qm(xtr[j]), ytr[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    sec = (time.time() - t0) / a.epochs * 60000 / len(xtr)
    qm.eval()
    with torch.no_grad():
        pred = torch.cat([qm(xte[i:i + 500]).argmax(1) for i in range(0, len(xte), 500)])
    return 100.0 * float((pred == yte).float().mean()), sec, (pred == yte).numpy()


def load(split, n):
    import torch
    p = "train" if split == "train" else "t10k"
    x = idx(f"{DATA}/{p}-images-idx3-ubyte.gz")[:n].astype(np.float32) / 255.0
    y = idx(f"{DATA}/{p}-labels-idx1-ubyte.gz")[:n].astype(np.int64)
    return torch.from_numpy((x - MEAN) / STD).unsqueeze(1), torch.from_numpy(y)


def failure(r):
    """why a cquant child failed: its exit status or signal (a crash prints nothing) and stderr"""
    why = f"killed by signal {-r.returncode}" if r.returncode < 0 else f"exit {r.returncode}"
    return f"{why}: {r.stderr.strip()}"


def cq(a, *args):
    t = time.time()
    r = subprocess.run([a.cquant, *args], capture_output=True, text=True)
    return r, time.time() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cquant", default=os.path.join(ROOT, "build/cquant"))
    ap.add_argument("--models", default="fmnist_cnn,fmnist_resnet,fmnist_mobilenet")
    ap.add_argument("--settings", default="w8a8,w4a8,w2a8,w4a4")
    ap.add_argument("--train", default="60000", help="N, or MODEL=N,... (others 60,000)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--lr", default="1e-4", help="LR, or LR,SETTING=LR,... (per-setting rates)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--speed", type=int, default=0, metavar="R", help="only the s/epoch table: R alternating rounds")
    ap.add_argument("--speed-steps", type=int, default=30)
    a = ap.parse_args()
    lr_of = {}
    for e in a.lr.split(","):
        if "=" in e:
            lr_of[e.split("=")[0]] = float(e.split("=")[1])
        else:
            lr_of[""] = float(e)
    a.lr = lr_of.get("", 1e-4)
    if a.speed:
        speed(a)
        return
    if "=" in a.train:
        per_model = {k: int(v) for k, v in (e.split("=") for e in a.train.split(","))}
    else:
        per_model = {m: int(a.train) for m in a.models.split(",")}
    n_train = {m: per_model.get(m, 60000) for m in a.models.split(",")}
    labels = idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    correct = {}  # file -> one boolean per test image (ONNX Runtime's top-1 right)
    choose = f"fashion-mnist:test:{min(a.test, 2000)}"  # PTQ's method choice on a subset
    print(f"# cquant QAT vs PyTorch {'' if a.no_torch else __import__('torch').__version__} QAT: {a.epochs} epoch(s) on "
          f"{', '.join(f'{n_train[m]} ({m})' for m in n_train)} training images, "
          f"AdamW lr {a.lr}{''.join(f', {k} {v}' for k, v in lr_of.items() if k)} cosine, batch {a.batch}, {a.threads} threads; top-1 on {a.test} test images (ONNX Runtime for cquant's files{'' if ORT_INT8_EXACT else ', at --opt basic: no VNNI'})")
    print(f"{'model':14} {'setting':8} {'fp32':>7} {'PTQ':>7} {'QAT STE':>8} {'QAT LSQ':>8} {'torch QAT':>9} | {'s/epoch STE':>11} {'LSQ':>7} {'torch':>7}")
    sys.stdout.flush()
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.models.split(","):
            path = os.path.join(ROOT, "models", model + ".onnx")
            train = f"fashion-mnist:train:{n_train[model]}"
            fp32 = ort_top1(path, a.test, False, labels)
            for s in a.settings.split(","):
                wb, ab = map(int, re.match(r"w(\d)a(\d)", s).groups())
                wname, aname = f"int{wb}", f"int{ab}"
                lr = lr_of.get(s, a.lr)
                # PTQ
                out = os.path.join(tmp, f"{model}_{s}_ptq.onnx")
                if ab == 8 and wb in (8, 4):
                    r, _ = cq(a, "ptq", path, "--calib", "fashion-mnist:train:2000", "--eval", choose, "--act-method", "all", "--weights", wname, "-o", out)
                else:
                    r, _ = cq(a, "qat", path, "--data", train, "--eval", "fashion-mnist:test:500", "--ptq-only", "--weights", wname, "--act", aname, "-o", out,
                              "--calib-samples", "2000", "--init-method", "mse")
                ptq = ort_top1(out, a.test, ab == 4, labels) if r.returncode == 0 else float("nan")
                res = {}
                for mode in ("ste", "lsq"):
                    out = os.path.join(tmp, f"{model}_{s}_{mode}.onnx")
                    args = ["qat", path, "--data", train, "-o", out, "--weights", wname, "--act", aname, "--epochs", str(a.epochs), "--lr", str(lr),
                            "--batch", str(a.batch), "--threads", str(a.threads), "--seed", str(a.seed)]
                    if mode == "lsq":
                        args.append("--lsq")
                    r, _ = cq(a, *args)
                    sec = re.search(r"([0-9.]+) s per epoch", r.stdout)
                    top = ort_top1(out, a.test, ab == 4, labels, correct) if r.returncode == 0 else float("nan")
                    if r.returncode:
                        print(f"# {model} {s} {mode}: {failure(r)}")
                    res[mode] = (top, float(sec.group(1)) * 60000 / n_train[model] if sec else float("nan"))
                if a.no_torch:
                    tq = (float("nan"), float("nan"), None)
                else:
                    try:
                        tq = torch_qat(model, wb, ab, a, n_train[model], lr)
                    except Exception as e:  # report and go on
                        print(f"# torch {model} {s}: {e}")
                        tq = (float("nan"), float("nan"), None)
                print(f"{model:14} {s:8} {fp32:7.2f} {ptq:7.2f} {res['ste'][0]:8.2f} {res['lsq'][0]:8.2f} {tq[0]:9.2f} | "
                      f"{res['ste'][1]:11.1f} {res['lsq'][1]:7.1f} {tq[1]:7.1f}")
                for mode in ("ste", "lsq"):  # docs/calibration.md eq. M2: is the difference from PyTorch more than the test set's draw?
                    f = os.path.join(tmp, f"{model}_{s}_{mode}.onnx")
                    if tq[2] is not None and f in correct:
                        print(f"#   {mode.upper()} against PyTorch QAT: {ps.phrase(*ps.mcnemar(correct[f], tq[2]))}")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
