#!/usr/bin/python3
"""The Fashion-MNIST reader and `cquant eval` end to end: a nearest-centroid classifier built here
from the training images (Flatten + Gemm: argmax of x.c_k - |c_k|^2 / 2) must reach the accuracy
NumPy computes for it on the test images (to within 2 of 2,000 samples: float summation order), and
the dataset specification's errors must be clear.

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
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
