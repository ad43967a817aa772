#!/usr/bin/python3
"""cquant's float executor on a large exported-style vision model in bounded memory: a U-Net-shaped
ONNX graph (double 3x3 Conv+Relu per level, MaxPool down, Resize x2 + Concat up, 7 levels, about
40M parameters, random weights) on one 1x3x1024x1024 image. Prints cquant's peak memory beside the
weights, the largest single activation and the sum of all activations (what an executor that kept
every intermediate would hold), and the output's agreement with ONNX Runtime.

usage: /usr/bin/python3 bench/unet_memory.py [PATH/TO/cquant]
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CQ = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "cquant")
rng = np.random.default_rng(0)
tmp = tempfile.mkdtemp(prefix="cquant_unet.")
nodes, inits = [], []
H = 1024
act_bytes, largest = 0, 0
params = 0


def conv(x, cin, cout, name, hw):
    global params, act_bytes, largest
    w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (9 * cin))).astype(np.float32)
    b = np.zeros(cout, np.float32)
    inits.extend([numpy_helper.from_array(w, name + "_w"), numpy_helper.from_array(b, name + "_b")])
    params += w.size + b.size
    nodes.append(helper.make_node("Conv", [x, name + "_w", name + "_b"], [name + "_c"], pads=[1, 1, 1, 1], name=name))
    nodes.append(helper.make_node("Relu", [name + "_c"], [name]))
    a = cout * hw * hw * 4
    act_bytes += 2 * a
    largest = max(largest, a)
    return name


chans = [18, 36, 72, 144, 288, 576, 1152]
x, cin, skips, hw = "input", 3, [], H
for i, c in enumerate(chans):
    x = conv(conv(x, cin, c, f"d{i}a", hw), c, c, f"d{i}b", hw)
    cin = c
    if i < len(chans) - 1:
        skips.append((x, c, hw))
        nodes.append(helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2]))
        x, hw = f"p{i}", hw // 2
        act_bytes += c * hw * hw * 4
inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "up2"))
for i, (s, c, shw) in reversed(list(enumerate(skips))):
    nodes.append(helper.make_node("Resize", [x, "", "up2"], [f"u{i}"], mode="nearest"))
    nodes.append(helper.make_node("Concat", [f"u{i}", s], [f"cat{i}"], axis=1))
    act_bytes += (cin + 2 * c) * shw * shw * 4
    x = conv(conv(f"cat{i}", cin + c, c, f"e{i}a", shw), c, c, f"e{i}b", shw)
    cin, hw = c, shw
w = (rng.standard_normal((2, cin, 1, 1)) * 0.1).astype(np.float32)
inits.append(numpy_helper.from_array(w, "head_w"))
nodes.append(helper.make_node("Conv", [x, "head_w"], ["mask"], name="head"))
params += w.size
g = helper.make_graph(nodes, "unet", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, H, H])],
                      [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 2, H, H])], inits)
model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
mp = os.path.join(tmp, "unet.onnx")
onnx.save(model, mp, save_as_external_data=True, all_tensors_to_one_file=True, location="unet.data", size_threshold=1024)
np.save(os.path.join(tmp, "x.npy"), rng.standard_normal((1, 3, H, H)).astype(np.float32))
print(f"U-Net: {len(nodes)} nodes, {params / 1e6:.1f}M parameters ({params * 4 / 2**20:.0f} MiB, external data file), "
      f"input 1x3x{H}x{H}")
od = os.path.join(tmp, "c")
os.makedirs(od)
t0 = time.time()
r = subprocess.run(["/usr/bin/time", "-f", "%M", CQ, "run", mp, "--input", "input=" + os.path.join(tmp, "x.npy"), "--output-dir", od],
                   capture_output=True, text=True)
sec = time.time() - t0
if r.returncode:
    sys.exit(r.stderr)
peak = int(r.stderr.strip().splitlines()[-1]) * 1024
print(f"cquant run: {sec:.1f} s, peak resident memory {peak / 2**20:.0f} MiB")
print(f"  weights {params * 4 / 2**20:.0f} MiB; largest activation {largest / 2**20:.0f} MiB; "
      f"all activations together {act_bytes / 2**20:.0f} MiB (what keeping every intermediate would take)")
oo = os.path.join(tmp, "o")
os.makedirs(oo)
t0 = time.time()
ro = subprocess.run(["/usr/bin/time", "-f", "%M", "node", os.path.join(ROOT, "tools/ort/run.js"), mp, oo, "input=" + os.path.join(tmp, "x.npy")],
                    capture_output=True, text=True)
if ro.returncode == 0:
    a, b = np.load(os.path.join(od, "mask.npy")), np.load(os.path.join(oo, "mask.npy"))
    print(f"ONNX Runtime: {time.time() - t0:.1f} s, peak {int(ro.stderr.strip().splitlines()[-1]) / 1024:.0f} MiB; "
          f"max relative difference {float(np.abs(a - b).max() / np.abs(b).max()):.2e}")
else:
    print("ONNX Runtime: not run (" + (ro.stderr.strip().splitlines() or ["?"])[-1] + ")")
