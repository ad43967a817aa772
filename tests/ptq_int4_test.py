#!/usr/bin/env python3
"""cquant ptq's per-group int4/uint4/int2 weights (DequantizeLinear-21 block_size, packed INT4/UINT4
initializers), weight-only files and float8e4m3fn files (issue 11, "Weights" and "FP8"), and the
opset-21 upgrade with its refusal.

ONNX Runtime (tools/ort/run.js) runs every file; onnx.checker (onnx 1.12 knows opsets up to 17)
checks the opset-13 files. The packed weights are decoded here with NumPy, independently of cquant
(nibbles, block layout, zero-points), and must reproduce the float weights. Top-1 on the shipped
models: each setting against fp32 and against per-channel int4; cquant run agrees with ORT.
fp8 files run in ORT at graph optimization level basic: ORT 1.20's level-2 QDQ rewrites
(ReluQuantFusion drops a Relu before any QuantizeLinear whose zero-point is not int8/uint8; QDQ
propagation leaves MaxPool on float8) treat float8 pairs as int8 ones; docs/quantization.md.
usage: ptq_int4_test.py CQUANT"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from ort_cpu import EXACT, REDUCE  # noqa: E402  (tests/: ORT's int8 kernels on this CPU)
import onnx
from onnx import TensorProto, helper, numpy_helper

CQ = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAVE_ORT = os.path.isdir(os.path.join(ROOT, "tools/ort/node_modules/onnxruntime-node")) and shutil.which("node")
N_EVAL = 500
INT4, UINT4, FLOAT8E4M3FN = 22, 21, 17  # ONNX element types (onnx 1.12 names neither INT4 nor UINT4)
fails = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f"  {detail}" if detail else ""))
    if not ok:
        fails.append(name)


def cq(*args):
    return subprocess.run([CQ, *args], capture_output=True, text=True)


def test_images(n):
    d = "/usr/share/datasets/fashion-mnist"
    with gzip.open(f"{d}/t10k-images-idx3-ubyte.gz") as f:
        im = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(f"{d}/t10k-labels-idx1-ubyte.gz") as f:
        lb = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return im, lb


def ort_run(model, inputs, tmp, opt="all"):
    """The graph outputs of ONNX Runtime on inputs {name: array}, or an error string."""
    out = tempfile.mkdtemp(dir=tmp)
    args = []
    for k, v in inputs.items():
        np.save(os.path.join(out, k + ".npy"), v)
        args.append(f"{k}={os.path.join(out, k + '.npy')}")
    r = subprocess.run(["node", os.path.join(ROOT, "tools/ort/run.js"), model, out, "--opt", opt, *args], capture_output=True, text=True)
    if r.returncode:
        return r.stderr.strip()[-400:]
    m = onnx.load(model, load_external_data=False)
    return [np.load(os.path.join(out, o.name.replace("/", "_") + ".npy")) for o in m.graph.output]


def cq_run(model, inputs, tmp):
    out = tempfile.mkdtemp(dir=tmp)
    args = []
    for k, v in inputs.items():
        np.save(os.path.join(out, k + ".npy"), v)
        args.append(f"{k}={os.path.join(out, k + '.npy')}")
    r = cq("run", model, *[a for x in args for a in ("--input", x)], "--output-dir", out)
    if r.returncode:
        return r.stderr.strip()[-400:]
    m = onnx.load(model, load_external_data=False)
    return [np.load(os.path.join(out, o.name.replace("/", "_") + ".npy")) for o in m.graph.output]


def unpack4(t):
    """A packed INT4/UINT4 TensorProto as int values, decoded here (ONNX: element 0 in the low nibble)."""
    raw = np.frombuffer(t.raw_data, np.uint8)
    n = int(np.prod(t.dims)) if t.dims else 1
    v = np.empty(2 * raw.size, np.int16)
    v[0::2], v[1::2] = raw & 15, raw >> 4
    v = v[:n]
    if t.data_type == INT4:
        v = np.where(v > 7, v - 16, v)
    return v.reshape(tuple(t.dims))


def fp8_to_float(b):
    """float8e4m3fn bit patterns to float (bias 7, no infinities, S.1111.111 NaN)."""
    b = b.astype(np.int32)
    s, e, m = (b >> 7) & 1, (b >> 3) & 15, b & 7
    v = np.where(e == 0, m / 8.0 * 2.0 ** -6, (1 + m / 8.0) * 2.0 ** (e - 7.0))
    v = np.where((e == 15) & (m == 7), np.nan, v)
    return np.where(s == 1, -v, v)


def init_values(m, name):
    for t in m.graph.initializer:
        if t.name == name:
            if t.data_type in (INT4, UINT4):
                return unpack4(t)
            if t.data_type == FLOAT8E4M3FN:
                return fp8_to_float(np.frombuffer(t.raw_data, np.uint8).reshape(tuple(t.dims)))
            return numpy_helper.to_array(t)
    return None


def dequant_weight(m, dq):
    """NumPy DequantizeLinear (per axis or blocked, opset 21 semantics) of a constant."""
    q, s, z = (init_values(m, dq.input[k]).astype(np.float64) for k in range(3))
    attrs = {a.name: a.i for a in dq.attribute}
    axis, bs = attrs.get("axis", 1), attrs.get("block_size", 0)
    if bs:
        s, z = np.repeat(s, bs, axis=axis), np.repeat(z, bs, axis=axis)
        idx = [slice(None)] * q.ndim
        idx[axis] = slice(0, q.shape[axis])
        s, z = s[tuple(idx)], z[tuple(idx)]
    else:
        shape = [1] * q.ndim
        shape[axis] = -1
        s, z = s.reshape(shape), z.reshape(shape)
    return (q - z) * s


def sqnr(ref, x):
    return 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / max(np.sum((ref - x) ** 2), 1e-30))


tmp = tempfile.mkdtemp(prefix="ptq_int4_")
im, lb = test_images(N_EVAL)
SETTINGS = [  # name, cquant ptq options, the opset the file must have
    ("int8" if EXACT else "int8_7bit", REDUCE, 13),  # 7-bit weights where ORT's int8 kernels saturate (tests/ort_cpu.py)
    ("int4_ch", ["--weights", "int4"], 13),
    ("int4_ch_packed", ["--weights", "int4", "--pack-int4"], 21),
    ("int4_g32", ["--weights", "int4", "--weight-granularity", "group:32"], 21),
    ("int4_g128_wonly", ["--weights", "int4", "--weight-granularity", "group:128", "--act", "none"], 21),
    ("uint4_g32", ["--weights", "uint4", "--weight-granularity", "group:32"], 21),
    ("int2_g16", ["--weights", "int2", "--weight-granularity", "group:16"], 21),
    ("fp8", ["--weights", "fp8e4m3", "--act", "fp8e4m3"], 19),
]
results = {}
for mname in ("fmnist_cnn", "fmnist_resnet"):
    model = os.path.join(ROOT, "models", mname + ".onnx")
    fm = onnx.load(model)
    meta = {p.key: p.value for p in fm.metadata_props}
    x = ((im / 255.0 - float(meta.get("cquant.mean", 0))) / float(meta.get("cquant.std", 1))).astype(np.float32)
    feed = {fm.graph.input[0].name: x}
    if HAVE_ORT:
        ref = ort_run(model, feed, tmp)
        results[(mname, "fp32")] = 100.0 * float((ref[0].argmax(1) == lb).mean())
    float_w = {t.name: numpy_helper.to_array(t) for t in fm.graph.initializer}
    folded = any(n.op_type == "BatchNormalization" for n in fm.graph.node)
    for name, opts, opset in SETTINGS:
        if mname == "fmnist_resnet" and name in ("int4_ch_packed", "int2_g16"):
            continue  # the CNN covers these; keeps the suite short
        out = os.path.join(tmp, f"{mname}_{name}.onnx")
        rep = os.path.join(tmp, f"{mname}_{name}.json")
        r = cq("ptq", model, "--calib", "fashion-mnist:train:500", "-o", out, "--report", rep, *opts)
        if r.returncode:
            check(f"{mname} {name}: cquant ptq", False, r.stderr.strip())
            continue
        m = onnx.load(out)
        ops = [n.op_type for n in m.graph.node]
        got_opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
        wdq = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0].endswith("_W_quantized")]
        types = {t.name: t.data_type for t in m.graph.initializer}
        desc = f"opset {got_opset}, {len(wdq)} weight DQ"
        good = got_opset == opset and len(wdq) >= 3
        # the stored weights: packed two per byte where the type is INT4/UINT4, the layout ONNX defines
        want_type = {"int4_ch": TensorProto.INT8, "int4_ch_packed": INT4, "int4_g32": INT4, "int4_g128_wonly": INT4,
                     "uint4_g32": UINT4, "int2_g16": TensorProto.INT8, "fp8": FLOAT8E4M3FN, "int8": TensorProto.INT8, "int8_7bit": TensorProto.INT8}[name]
        rep_j = json.load(open(rep))
        layer_fmt = {l["node"]: l.get("weights", {}) for l in rep_j["layers"]}
        worst = 99.0
        for dq in wdq:
            t = [t for t in m.graph.initializer if t.name == dq.input[0]][0]
            good &= t.data_type == want_type and types[dq.input[2]] == want_type
            if t.data_type in (INT4, UINT4):
                good &= len(t.raw_data) == (int(np.prod(t.dims)) + 1) // 2
            v = init_values(m, dq.input[0])
            lo, hi = {"int2_g16": (-2, 1), "int4_ch": (-7, 7), "uint4_g32": (0, 15)}.get(name, (-7, 7) if want_type == INT4 else (-448, 448))
            good &= bool(np.nanmin(v) >= lo and np.nanmax(v) <= hi)
            node = dq.output[0][: -len("_W_dequantized")]
            orig = [n for n in fm.graph.node if n.name == node]
            w_float = float_w.get(orig[0].input[1]) if orig and not folded else None  # BatchNorm folding changes the weights
            if w_float is not None:
                worst = min(worst, sqnr(w_float, dequant_weight(m, dq)))
            blk = {a.name: a.i for a in dq.attribute}.get("block_size", 0)
            f = layer_fmt.get(node, {})
            good &= f.get("group_size", -1) == blk and f.get("granularity") == ("group" if blk else "channel")
        floor = {"int8": 35, "int8_7bit": 30, "int2_g16": 5, "fp8": 25}.get(name, 14)
        good &= worst >= floor
        check(f"{mname} {name}: {desc}, weights stored as ONNX type {want_type}, NumPy-decoded weights within {floor} dB of float "
              f"(worst {worst:.1f} dB), report names each layer's granularity and group size", good, str(sorted(set(ops))) if not good else "")
        if name == "fp8":
            qz = [init_values(m, n.input[2]) for n in m.graph.node if n.op_type == "QuantizeLinear"]
            inp = rep_j.get("input", {})
            s_in = float(init_values(m, fm.graph.input[0].name + "_scale"))
            amax = max(abs(inp.get("min", 0)), abs(inp.get("max", 0)))
            check(f"{mname} fp8: QuantizeLinear zero-points float8e4m3fn 0, input scale = calibrated amax / 448",
                  len(qz) >= 2 and all(float(z) == 0 for z in qz) and abs(s_in - amax / 448) <= 1e-6 * amax,
                  f"scale {s_in} amax {amax}")
        if opset <= 17:
            try:
                onnx.checker.check_model(m)
                ok = True
            except Exception as e:  # noqa: BLE001
                ok, err = False, str(e)
            check(f"{mname} {name}: onnx.checker passes (opset {opset})", ok, "" if ok else err[:200])
        if not HAVE_ORT:
            continue
        y = ort_run(out, feed, tmp, opt="basic" if name == "fp8" else "all")
        if isinstance(y, str):
            check(f"{mname} {name}: ONNX Runtime runs the file", False, y)
            continue
        top1 = 100.0 * float((y[0].argmax(1) == lb).mean())
        results[(mname, name)] = top1
        yc = cq_run(out, feed, tmp)
        if isinstance(yc, str):
            check(f"{mname} {name}: cquant run runs the file", False, yc)
            continue
        agree = 100.0 * float((yc[0].argmax(1) == y[0].argmax(1)).mean())
        check(f"{mname} {name}: ONNX Runtime top-1 {top1:.2f}% (fp32 {results[(mname, 'fp32')]:.2f}%); cquant run agrees on {agree:.2f}% "
              f"(>= 99.5%)", agree >= 99.5)

if HAVE_ORT:
    print(f"\ntop-1 on the first {N_EVAL} Fashion-MNIST test images (ONNX Runtime; fp8 at optimization level basic)")
    print(f"{'setting':18s} {'fmnist_cnn':>11s} {'fmnist_resnet':>14s}")
    for name in ["fp32"] + [s[0] for s in SETTINGS]:
        print(f"{name:18s} {results.get(('fmnist_cnn', name), float('nan')):10.2f}% {results.get(('fmnist_resnet', name), float('nan')):13.2f}%")
    for mname in ("fmnist_cnn", "fmnist_resnet"):
        f32, ch, g32, u32, w, f8 = (results.get((mname, k)) for k in ("fp32", "int4_ch", "int4_g32", "uint4_g32", "int4_g128_wonly", "fp8"))
        if None in (f32, ch, g32, u32, w, f8):
            continue
        check(f"{mname}: int4 and uint4 per group of 32 within 2 pt of fp32 and at least per-channel int4 - 0.5 pt ({g32:.2f}, {u32:.2f}; "
              f"fp32 {f32:.2f}, per channel {ch:.2f})", min(g32, u32) >= f32 - 2.0 and min(g32, u32) >= ch - 0.5)
        # G = 128 leaves the layers with fewer than 128 input channels per channel: close to per-channel int4
        check(f"{mname}: weight-only int4 g128 at least per-channel int4 - 1 pt ({w:.2f} vs {ch:.2f}); fp8 within 1 pt of fp32 ({f8:.2f})",
              w >= ch - 1.0 and f8 >= f32 - 1.0)

# ---- the opset-21 upgrade: nodes whose form changed are rewritten -----------------------------------
rng = np.random.default_rng(0)
W = numpy_helper.from_array(rng.standard_normal((64, 32)).astype(np.float32) * 0.2, "W")
nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
         helper.make_node("Relu", ["h"], ["r"], name="relu"),
         helper.make_node("Split", ["r"], ["a", "b"], axis=1, name="split"),
         helper.make_node("ReduceMean", ["a"], ["ma"], axes=[1], keepdims=1, name="rmean"),
         helper.make_node("ReduceMax", ["b"], ["mb"], axes=[1], keepdims=1, name="rmax"),
         helper.make_node("Add", ["ma", "mb"], ["y"], name="add")]
g = helper.make_graph(nodes, "upgrade", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1])], [W])
up = os.path.join(tmp, "upgrade.onnx")
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), up)
xs = rng.standard_normal((50, 64)).astype(np.float32)
np.save(os.path.join(tmp, "xs.npy"), xs)
uq = os.path.join(tmp, "upgrade_q.onnx")
r = cq("ptq", up, "--calib", os.path.join(tmp, "xs.npy"), "--batch", "10", "-o", uq, "--weights", "int4", "--weight-granularity", "group:32")
if r.returncode:
    check("opset 13 -> 21: cquant ptq rewrites Split and ReduceMean/ReduceMax", False, r.stderr.strip())
else:
    m = onnx.load(uq)
    nd = {n.name: n for n in m.graph.node}
    ok = ([o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [21] and len(nd["rmean"].input) == 2 and len(nd["rmax"].input) == 2
          and not [a for a in nd["rmean"].attribute if a.name == "axes"] and {a.name: a.i for a in nd["split"].attribute}.get("num_outputs") == 2)
    detail = ""
    if HAVE_ORT and ok:
        yr, yq = ort_run(up, {"x": xs}, tmp), ort_run(uq, {"x": xs}, tmp)
        ok = not isinstance(yq, str) and sqnr(yr[0], yq[0]) > 15
        detail = yq if isinstance(yq, str) else f"output SQNR {sqnr(yr[0], yq[0]):.1f} dB"
    check("opset 13 -> 21: Split gets num_outputs, ReduceMean/ReduceMax axes become inputs; ORT runs it (output SQNR > 15 dB)", ok, detail)

# ---- bad input: one line, exit 1, nothing written ----------------------------------------------------
def refused(name, args, out, needle):
    r = cq("ptq", *args, "-o", out)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln]
    check(f"bad: {name}: exit 1, one line naming {needle!r}, nothing written", r.returncode == 1 and len(lines) == 1 and needle in lines[0]
          and not os.path.exists(out), r.stderr.strip()[:300])


nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm"),
         helper.make_node("Unsqueeze", ["x", "ax"], ["xu"], name="unsq"),
         helper.make_node("DFT", ["xu"], ["spec"], axis=1, name="my_dft")]
g = helper.make_graph(nodes, "dft17", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 32]), helper.make_tensor_value_info("spec", TensorProto.FLOAT, None)],
                      [W, numpy_helper.from_array(np.array([2], np.int64), "ax")])
dft = os.path.join(tmp, "dft17.onnx")
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), dft)
out = os.path.join(tmp, "never.onnx")
calib = ["--calib", os.path.join(tmp, "xs.npy"), "--batch", "10"]
refused("opset-21 weights for an opset-17 model with a DFT", [dft, *calib, "--weights", "int4", "--weight-granularity", "group:32"], out, "my_dft")
r = cq("ptq", dft, *calib, "-o", out, "--weights", "int4")
check("the same model with per-channel int4 (opset 13 file) quantizes", r.returncode == 0 and os.path.exists(out), r.stderr.strip()[:200])
if os.path.exists(out):
    os.remove(out)
model = os.path.join(ROOT, "models", "fmnist_cnn.onnx")
fm_cal = ["--calib", "fashion-mnist:train:20"]
refused("a group size outside 16..256", [model, *fm_cal, "--weight-granularity", "group:8"], out, "group:8")
refused("fp8 weights per group", [model, *fm_cal, "--weights", "fp8e4m3", "--weight-granularity", "group:32"], out, "fp8e4m3")
refused("int4 groups in the QLinear form", [model, *fm_cal, "--weights", "int4", "--weight-granularity", "group:32", "--format", "qop"], out, "qop")
refused("--act fp8e4m3 with --symmetric-act", [model, *fm_cal, "--act", "fp8e4m3", "--symmetric-act"], out, "--symmetric-act")

shutil.rmtree(tmp, ignore_errors=True)
print(f"\n{len(fails)} failed" if fails else "\nall passed")
sys.exit(1 if fails else 0)
