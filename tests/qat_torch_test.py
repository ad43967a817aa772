#!/usr/bin/python3
"""cquant's QAT training engine against PyTorch on the shipped models.

    /usr/bin/python3 tests/qat_torch_test.py path/to/cquant

The ONNX graph of models/fmnist_cnn.onnx and models/fmnist_resnet.onnx is run in PyTorch (float64,
BatchNorm in training mode: batch statistics) with the same weights on the same batch of 64
Fashion-MNIST training images; `cquant qat --grad-dump` does one forward/backward pass in C
(float32). The loss and every parameter's gradient must agree within 1e-4 relative
(max |g_cquant - g_torch| / max |g_torch|). Exits 77 (skip) when torch is missing.
"""
import gzip
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import onnx
    import torch
    import torch.nn.functional as F
    from onnx import numpy_helper
except ImportError:
    print("skip: torch or onnx missing")
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"
CQ = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/cquant")
TOL = 1e-4


def idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


def attrs(n):
    return {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}


def run_torch(model, x, labels, branches=None):
    """The ONNX graph in PyTorch (float64); returns the loss and the gradients by initializer name.
    branches: Relu output name -> cquant's float32 output of it. Where an input lies within float32
    rounding of 0 (each ReLU here has a few of its 0.4-1.6 million inputs within 1e-6 of the largest),
    float32 and float64 can take different sides of the kink, and one such input moves a gradient by
    up to 1e-3 of its largest entry; the reference then takes the side cquant took (y = x * [y_c > 0])."""
    g = model.graph
    params = {i.name: torch.tensor(numpy_helper.to_array(i).astype(np.float64), requires_grad=True) for i in g.initializer}
    env = {g.input[0].name: torch.tensor(x.astype(np.float64))}
    running = {}
    for n in g.node:
        a, i = attrs(n), [env[k] if k in env else params[k] for k in n.input if k]
        op = n.op_type
        if op == "Conv":
            p = a.get("pads", [0, 0, 0, 0])
            assert p[0] == p[2] and p[1] == p[3]
            y = F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, a.get("strides", [1, 1]), p[:2], a.get("dilations", [1, 1]), a.get("group", 1))
        elif op == "BatchNormalization":
            rm, rv = i[3].detach().clone(), i[4].detach().clone()
            running[n.input[3]], running[n.input[4]] = rm, rv
            y = F.batch_norm(i[0], rm, rv, i[1], i[2], True, 1 - a.get("momentum", 0.9), a.get("epsilon", 1e-5))
        elif op == "Relu":
            b = (branches or {}).get(n.output[0])
            y = F.relu(i[0]) if b is None else i[0] * torch.tensor((b.reshape(i[0].shape) > 0).astype(np.float64))
        elif op == "MaxPool":
            p = a.get("pads", [0, 0, 0, 0])
            y = F.max_pool2d(i[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), p[:2])
        elif op == "Flatten":
            y = torch.flatten(i[0], a.get("axis", 1))
        elif op == "Gemm":
            w = i[1].t() if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * i[0] @ w + (a.get("beta", 1.0) * i[2] if len(i) > 2 else 0)
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "GlobalAveragePool":
            y = i[0].mean(dim=(2, 3), keepdim=True)
        else:
            raise SystemExit(f"qat_torch_test: op {op} not mapped")
        env[n.output[0]] = y
    logits = env[g.output[0].name]
    loss = F.cross_entropy(logits, torch.tensor(labels))
    loss.backward()
    run_torch.running = {k: v.numpy() for k, v in running.items()}
    return loss.item(), {k: v.grad.numpy() for k, v in params.items() if v.grad is not None}


def check_step(name, path, tmp, x, ys, grads, optimizer):
    """One optimizer step (eq. 22-23 of docs/qat.md) and the BatchNorm running statistics (eq. 13)
    against the update computed from PyTorch's gradients; compared where the update is well defined
    (AdamW's first step is lr * g / (|g| + eps): elements with a tiny gradient are left out)."""
    lr, wd = 1e-3, 0.05
    out, fo = os.path.join(tmp, name + "_step.onnx"), os.path.join(tmp, name + "_step_float.onnx")
    r = subprocess.run([CQ, "qat", path, "--data", os.path.join(tmp, "x.npy"), "--labels", os.path.join(tmp, "y.npy"), "--batch", "64", "--weights", "float",
                        "--act", "float", "--threads", "2", "--max-steps", "1", "--schedule", "constant", "--optimizer", optimizer, "--lr", str(lr),
                        "--weight-decay", str(wd), "-o", out, "--float-out", fo], capture_output=True, text=True)
    if r.returncode:
        print(f"FAIL {name} {optimizer} step: {r.stderr.strip()}")
        return False
    before = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in onnx.load(path).graph.initializer}
    after = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in onnx.load(fo).graph.initializer}
    ok, worst = True, 0.0
    for k, w in before.items():
        if k in grads:
            g = grads[k]
            d = wd if w.ndim >= 2 else 0.0
            if optimizer == "sgd":
                exp, mask = w - lr * (g + d * w), np.ones(w.shape, bool)
            else:
                exp, mask = w * (1 - lr * d) - lr * g / (np.abs(g) + 1e-8), np.abs(g) > 1e-3 * np.abs(g).max()
        elif k in run_torch.running:
            exp, mask = run_torch.running[k], np.ones(w.shape, bool)
        else:
            continue
        rel = float(np.abs(after[k] - exp)[mask].max(initial=0) / max(np.abs(exp).max(), 1e-12))
        worst = max(worst, rel)
        if rel > TOL:
            print(f"FAIL {name} {optimizer}: {k}: relative error {rel:.3g} after one step")
            ok = False
    print(f"{'ok  ' if ok else 'FAIL'} {name}: one {optimizer} step (and BatchNorm running statistics), worst relative error {worst:.2e}")
    return ok


def main():
    if not os.path.exists(CQ):
        print(f"cquant binary {CQ} not found")
        return 1
    xs = idx(f"{DATA}/train-images-idx3-ubyte.gz")[:64].astype(np.float32) / 255.0
    ys = idx(f"{DATA}/train-labels-idx1-ubyte.gz")[:64].astype(np.int64)
    x = ((xs - 0.286) / 0.353)[:, None].astype(np.float32)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), x)
        np.save(os.path.join(tmp, "y.npy"), ys)
        for name in ("fmnist_cnn", "fmnist_resnet"):
            path = os.path.join(ROOT, "models", name + ".onnx")
            dump = os.path.join(tmp, name)
            relus = [n.output[0] for n in onnx.load(path).graph.node if n.op_type == "Relu"]
            r = subprocess.run([CQ, "qat", path, "--data", os.path.join(tmp, "x.npy"), "--labels", os.path.join(tmp, "y.npy"), "--batch", "64",
                                "--weights", "float", "--act", "float", "--threads", "2", "--grad-dump", dump, "--dump-values", ",".join(relus)],
                               capture_output=True, text=True)
            if r.returncode:
                print(f"FAIL {name}: cquant qat --grad-dump: {r.stderr.strip()}")
                failures += 1
                continue
            loss_c = float(open(os.path.join(dump, "loss.txt")).read())
            names = open(os.path.join(dump, "names.txt")).read().split()
            branches = {v: np.load(os.path.join(dump, f"value_{k}.npy")) for k, v in enumerate(relus)}
            loss_t, grads = run_torch(onnx.load(path), x, ys, branches)
            worst, wname = abs(loss_c - loss_t) / abs(loss_t), "loss"
            ok = worst <= TOL
            if not ok:
                print(f"FAIL {name}: loss {loss_c} vs torch {loss_t}")
            for k, pname in enumerate(names):
                gc = np.load(os.path.join(dump, f"grad_{k}.npy")).astype(np.float64)
                gt = grads.get(pname)
                if gt is None or gt.size != gc.size:
                    print(f"FAIL {name}: {pname}: no matching torch gradient")
                    ok = False
                    continue
                rel = float(np.abs(gc - gt.ravel()).max() / max(np.abs(gt).max(), 1e-12))
                if rel > worst:
                    worst, wname = rel, pname
                if rel > TOL:
                    print(f"FAIL {name}: {pname}: relative gradient error {rel:.3g}")
                    ok = False
            missing = set(grads) - set(names)
            if missing:
                print(f"FAIL {name}: gradients torch has and cquant lacks: {sorted(missing)}")
                ok = False
            print(f"{'ok  ' if ok else 'FAIL'} {name}: loss {loss_c:.6f} (torch {loss_t:.6f}), {len(names)} gradients, worst relative error {worst:.2e} ({wname})")
            failures += not ok
            for opt in ("sgd", "adamw"):
                failures += not check_step(name, path, tmp, x, ys, grads, opt)
    print(f"{6 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
