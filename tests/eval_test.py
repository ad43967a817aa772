#!/usr/bin/python3
"""The Fashion-MNIST reader and `cquant eval` end to end: a nearest-centroid classifier built here
from the training images (Flatten + Gemm: argmax of x.c_k - |c_k|^2 / 2) must reach the accuracy
NumPy computes for it on the test images (to within 2 of 2,000 samples: float summation order), and
the dataset specification's errors must be clear. Then data without labels of its own: a model of
two inputs (the images as float rows and int64 ids that add a row of a table to the scores) on .npy
files, NAME=DATA each, with --labels in several integer types (cquant eval) and --eval-labels
(cquant ptq choosing its method by top-1): the count equals NumPy's, and bad label files are one
clear line.

usage: eval_test.py PATH/TO/cquant
"""
import gzip
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CQ = sys.argv[1]
D = "/usr/share/datasets/fashion-mnist"
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    passed += ok
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name} {detail}")


def idx(path):
    with gzip.open(path) as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


xt, yt = idx(f"{D}/train-images-idx3-ubyte.gz"), idx(f"{D}/train-labels-idx1-ubyte.gz")
xs, ys = idx(f"{D}/t10k-images-idx3-ubyte.gz")[:2000], idx(f"{D}/t10k-labels-idx1-ubyte.gz")[:2000]
mean, std = 0.286, 0.353
norm = lambda a: ((a.astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std)).reshape(len(a), -1)
c = np.stack([norm(xt[yt == k]).mean(0) for k in range(10)]).astype(np.float32)
bias = (-0.5 * (c * c).sum(1)).astype(np.float32)
want = int(((norm(xs) @ c.T + bias).argmax(1) == ys).sum())
g = helper.make_graph([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "c", "b"], ["y"], transB=1)], "centroid",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 28, 28])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])],
                      [numpy_helper.from_array(c, "c"), numpy_helper.from_array(bias, "b")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(m)
tmp = tempfile.mkdtemp(prefix="cquant_eval.")
mp = os.path.join(tmp, "centroid.onnx")
onnx.save(m, mp)
r = subprocess.run([CQ, "eval", mp, "--data", "fashion-mnist:test:2000", "--mean", str(mean), "--std", str(std), "--batch", "300"],
                   capture_output=True, text=True)
got = re.search(r"\((\d+) of 2000\)", r.stdout)
check("eval: nearest-centroid accuracy equals NumPy's", r.returncode == 0 and got is not None and abs(int(got.group(1)) - want) <= 2,
      f"(cquant {got.group(1) if got else r.stderr.strip()}, NumPy {want} of 2000)")
for spec, what in (("mnist", "no such file or folder"), ("fashion-mnist:test:0", "positive integer"), ("fashion-mnist:valid", "positive integer")):
    r = subprocess.run([CQ, "eval", mp, "--data", spec], capture_output=True, text=True)
    check(f"eval: bad spec '{spec}'", r.returncode == 1 and what in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr.strip())

# ---- two inputs, labels from a file ---------------------------------------------------------------
rng = np.random.default_rng(1)
tab = rng.normal(0, 40, (16, 10)).astype(np.float32)  # moves about a tenth of the decisions
ids = rng.integers(0, 16, len(xs)).astype(np.int64)
want2 = int(((norm(xs) @ c.T + bias + tab[ids]).argmax(1) == ys).sum())
g2 = helper.make_graph([helper.make_node("Gemm", ["x", "c", "b"], ["s"], transB=1), helper.make_node("Gather", ["t", "ids"], ["r"], axis=0),
                        helper.make_node("Add", ["s", "r"], ["y"])], "centroid_ids",
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 784]), helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])],
                       [numpy_helper.from_array(c, "c"), numpy_helper.from_array(bias, "b"), numpy_helper.from_array(tab, "t")])
m2 = helper.make_model(g2, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(m2)
mp2 = os.path.join(tmp, "centroid_ids.onnx")
onnx.save(m2, mp2)
P = lambda n: os.path.join(tmp, n)
np.save(P("x.npy"), norm(xs))
np.save(P("ids.npy"), ids)
lab = {"y64.npy": ys.astype(np.int64), "y32col.npy": ys.astype(np.int32).reshape(-1, 1), "yu8.npy": ys.astype(np.uint8)}
bad = {"yf.npy": (ys.astype(np.float32), "integer class ids"), "yd.npy": (ys.astype(np.float64), "integer class ids"), "yshort.npy": (ys[:-1].astype(np.int64), "1999 labels"),
       "ylong.npy": (np.concatenate([ys, [0]]).astype(np.int64), "2001 labels for the 2000 samples"),
       "ybig.npy": (np.where(np.arange(len(ys)) == 7, 10, ys).astype(np.int64), "sample 7 has label 10, but the model gives 10 classes"),
       "yneg.npy": (np.where(np.arange(len(ys)) == 9, -1, ys).astype(np.int16), "the label of sample 9 is not a class id"),
       "y2d.npy": (np.stack([ys, ys], 1).astype(np.int64), "one per sample")}
for n, a in list(lab.items()) + [(n, a) for n, (a, _) in bad.items()]:
    np.save(P(n), a)
data2 = ["--data", f"x={P('x.npy')}", "--data", f"ids={P('ids.npy')}", "--batch", "300"]
for n in lab:
    r = subprocess.run([CQ, "eval", mp2, *data2, "--labels", P(n)], capture_output=True, text=True)
    got = re.search(r"\((\d+) of 2000\)", r.stdout)
    check(f"eval: two inputs, --labels {n}", r.returncode == 0 and got is not None and abs(int(got.group(1)) - want2) <= 2,
          f"(cquant {got.group(1) if got else r.stderr.strip()}, NumPy {want2} of 2000; without the table {want})")
for n, (_, what) in bad.items():
    r = subprocess.run([CQ, "eval", mp2, *data2, "--labels", P(n)], capture_output=True, text=True)
    check(f"eval: bad labels {n}", r.returncode == 1 and what in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr.strip())
r = subprocess.run([CQ, "eval", mp2, "--data", P("x.npy"), "--labels", P("y64.npy")], capture_output=True, text=True)
check("eval: two inputs, one unnamed --data", r.returncode == 1 and "give --data NAME=DATA for each" in r.stderr, r.stderr.strip())
r = subprocess.run([CQ, "eval", mp, "--data", P("x.npy"), "--labels", P("yshort.npy")], capture_output=True, text=True)
check("eval: one .npy, a labels count known to differ at once", r.returncode == 1 and "1999 labels for the 2000 samples" in r.stderr, r.stderr.strip())
r = subprocess.run([CQ, "eval", mp2, *data2], capture_output=True, text=True)
check("eval: two inputs without labels", r.returncode == 1 and "no labels" in r.stderr, r.stderr.strip())
r = subprocess.run([CQ, "eval", mp, "--data", "fashion-mnist:test:100", "--labels", P("y64.npy")], capture_output=True, text=True)
check("eval: --labels for data that has labels", r.returncode == 1 and "already has labels" in r.stderr, r.stderr.strip())
# cquant ptq chooses by top-1 on the labelled evaluation data (eq. M1 of docs/calibration.md)
q = P("q.onnx")
r = subprocess.run([CQ, "ptq", mp2, "--calib", f"x={P('x.npy')}", "--calib", f"ids={P('ids.npy')}", "--act-method", "minmax,percentile",
                    "--eval", f"x={P('x.npy')}", "--eval", f"ids={P('ids.npy')}", "--eval-labels", P("y32col.npy"), "-o", q], capture_output=True, text=True)
fl = re.search(r"^float32 \(cquant\)\s+([\d.]+)%", r.stdout, re.M)
ints = [float(v) for v in re.findall(r"^integer \w+\s+([\d.]+)%", r.stdout, re.M)]
best = re.search(r"^best: (\w+)", r.stdout, re.M)
# the integer models' top-1s (their passes rewind the two inputs and the labels) stay near float's:
# labels out of step with the samples would give about 10%
check("ptq: --eval-labels makes the choice a top-1 one", r.returncode == 0 and fl is not None and abs(float(fl.group(1)) * 20 - want2) <= 2
      and len(ints) == 2 and all(abs(v - float(fl.group(1))) < 3 for v in ints) and best is not None and os.path.exists(q),
      (f"float {fl.group(1)}, integer {ints}" if fl else r.stderr.strip()[-200:]))
r = subprocess.run([CQ, "ptq", mp2, "--calib", f"x={P('x.npy')}", "--calib", f"ids={P('ids.npy')}", "--eval-labels", P("y64.npy"), "-o", P("never.onnx")],
                   capture_output=True, text=True)
check("ptq: --eval-labels without --eval", r.returncode == 1 and "--eval-labels needs --eval" in r.stderr and not os.path.exists(P("never.onnx")), r.stderr.strip())
r = subprocess.run([CQ, "ptq", mp2, "--calib", f"x={P('x.npy')}", "--calib", f"ids={P('ids.npy')}", "--act-method", "minmax,percentile",
                    "--eval", f"x={P('x.npy')}", "--eval", f"ids={P('ids.npy')}", "--eval-labels", P("yshort.npy"), "-o", P("never.onnx")],
                   capture_output=True, text=True)
check("ptq: a short labels file", r.returncode == 1 and "1999 labels" in r.stderr and len(r.stderr.strip().splitlines()) == 1
      and not os.path.exists(P("never.onnx")), r.stderr.strip())
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
