#!/usr/bin/python3
"""SmoothQuant (--smooth), bias correction (--bias-correction) and cross-layer equalization (--cle)
of `cquant ptq` (docs/quantization.md sec. 11-13, eq. 38-46), end to end on small models made here
with onnx.helper (seeded NumPy weights):

- ln_block (opset 17): LayerNormalization whose scale has 4 of 64 channels 40x larger (the
  activation outliers of transformer LayerNorm outputs) read by two MatMul+Add projections (one s
  shared, folded into the LayerNorm), their sum through Relu into a MatMul with no bias (1/s as an
  inserted Mul). int8 per-tensor PTQ loses most of the output SQNR; --smooth 0.5 must win back at
  least SMOOTH_MARGIN_DB (measured: see the constant). The smoothed float model (--format trt-cache
  writes it) equals the original within float rounding, and the QDQ file runs in ONNX Runtime and
  agrees with cquant.
- ln_decomposed (opset 13): the same LayerNorm as Mul(gamma) -> Add(beta) (torch's opset-13 export):
  1/s folded through the Add into the Mul's constant.
- bias_net: Conv without bias -> Relu -> GlobalAveragePool -> Flatten -> Gemm on inputs with a
  positive mean, int4 weights: --bias-correction must shrink the mean output error (over the test
  samples, per output) by BIAS_FACTOR; a bias is created for the Conv; the report gives the norm.
- dw_net: depthwise 3x3 Conv (channel ranges spread 100x) -> Relu -> pointwise Conv -> Relu ->
  Conv: --cle keeps the float model equal within 1e-5 relative and shrinks the depthwise weight's
  per-channel range spread; the report lists the pairs.
- A model none of them applies to (Conv -> Relu -> Conv -> Clip(0, 6) -> Conv: no MatMul/Gemm, Clip
  ends CLE's pairs) is written byte for byte as without them.
- Bad input: --smooth outside [0, 1], --smooth with --mode dynamic: one line, exit 1, nothing written.

usage: ptq_smooth_test.py PATH/TO/cquant        (exit 77: skipped without onnx)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from ort_cpu import EXACT, NOTE, REDUCE  # noqa: E402  (tests/: ORT's int8 kernels on this CPU)

CQ = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_RUN = os.path.join(ROOT, "tools/ort/run.js")
try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)
HAVE_ORT = os.path.isdir(os.path.join(ROOT, "tools/ort/node_modules/onnxruntime-node"))

# Margins measured on these seeded models (see the printed figures): ln_block int8 output SQNR 10.9 dB
# without smoothing, 34.6 dB with --smooth 0.5 (ln_decomposed 10.0 -> 36.2); the mean output error
# of bias_net shrinks 9x (0.124 -> 0.0134); the depthwise spread 75.7 -> 6.3.
SMOOTH_MARGIN_DB = 10.0
BIAS_FACTOR = 4.0

TMP = tempfile.mkdtemp(prefix="cquant_smooth.")
rng = np.random.default_rng(11)
failed = 0


def check(cond, what):
    global failed
    print(("ok   " if cond else "FAIL ") + what)
    failed += not cond


def path(name):
    return os.path.join(TMP, name)


def sqnr(ref, y):
    ref, y = np.asarray(ref, np.float64), np.asarray(y, np.float64)
    e = ((ref - y) ** 2).sum()
    return float("inf") if e == 0 else 10 * np.log10((ref ** 2).sum() / e)


def cquant(*args):
    return subprocess.run([CQ, *map(str, args)], capture_output=True, text=True)


def cq_run(model, x, mode="float"):
    out = path("cq_" + os.path.basename(model) + "_" + mode)
    os.makedirs(out, exist_ok=True)
    np.save(path("in.npy"), x)
    p = cquant("run", model, "--input", "x=" + path("in.npy"), "--output-dir", out, "--exec", mode)
    assert p.returncode == 0, p.stderr
    return np.load(os.path.join(out, "y.npy"))


def ort(model, x):
    out = path("ort_" + os.path.basename(model))
    os.makedirs(out, exist_ok=True)
    np.save(path("in.npy"), x)
    p = subprocess.run(["node", ORT_RUN, model, out, "x=" + path("in.npy")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return np.load(os.path.join(out, "y.npy"))


def save(graph, name, opset):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="ptq_smooth_test")
    m.ir_version = 8
    onnx.checker.check_model(m)
    f = path(name + ".onnx")
    onnx.save(m, f)
    return f


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def ptq(model, calib, out, *extra, ok=True):
    p = cquant("ptq", model, "--calib", calib, "--batch", 50, "-o", out, *extra)
    if ok:
        assert p.returncode == 0, p.stderr + p.stdout
    return p


D, T = 64, 8
gamma = np.ones(D, np.float32)
OUT = [5, 17, 33, 50]
gamma[OUT] = 40.0  # the outlier channels
# as in trained transformers, the weight rows that read the outlier channels are small: the outliers
# dominate the activation's range, not the layer's output
ROW = np.ones((D, 1), np.float32)
ROW[OUT] = 1 / 40.0
beta = (0.1 * rng.standard_normal(D)).astype(np.float32)


def ln_block():
    wq, wk = (rng.standard_normal((D, D)) / 8 * ROW).astype(np.float32), (rng.standard_normal((D, D)) / 8 * ROW).astype(np.float32)
    wo = (rng.standard_normal((D, 16)) / 8).astype(np.float32)
    nodes = [helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["t"], axis=-1, name="ln"),
             helper.make_node("MatMul", ["t", "wq"], ["q0"], name="q_proj"), helper.make_node("Add", ["q0", "bq"], ["q"], name="q_bias"),
             helper.make_node("MatMul", ["t", "wk"], ["k0"], name="k_proj"), helper.make_node("Add", ["k0", "bk"], ["k"], name="k_bias"),
             helper.make_node("Add", ["q", "k"], ["u"], name="sum"), helper.make_node("Relu", ["u"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "wo"], ["y"], name="out_proj")]
    inits = [init("gamma", gamma), init("beta", beta), init("wq", wq), init("wk", wk), init("wo", wo),
             init("bq", 0.1 * rng.standard_normal(D)), init("bk", 0.1 * rng.standard_normal(D))]
    g = helper.make_graph(nodes, "ln_block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", T, D])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", T, 16])], inits)
    return save(g, "ln_block", 17)


def ln_decomposed():
    w = (rng.standard_normal((D, 32)) / 8 * ROW).astype(np.float32)
    nodes = [helper.make_node("Mul", ["x", "gamma"], ["g"], name="ln_scale"), helper.make_node("Add", ["g", "beta"], ["t"], name="ln_shift"),
             helper.make_node("MatMul", ["t", "w"], ["m"], name="fc"), helper.make_node("Add", ["m", "b"], ["y"], name="fc_bias")]
    inits = [init("gamma", gamma), init("beta", beta), init("w", w), init("b", 0.1 * rng.standard_normal(32))]
    g = helper.make_graph(nodes, "ln_decomposed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", T, D])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", T, 32])], inits)
    return save(g, "ln_decomposed", 13)


def bias_net():
    w1 = (rng.standard_normal((16, 8, 3, 3)) / 6).astype(np.float32)
    w2 = (rng.standard_normal((10, 16)) / 4).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1], name="conv"), helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"), helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1, name="fc")]
    g = helper.make_graph(nodes, "bias_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 10, 10])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
                          [init("w1", w1), init("w2", w2), init("b2", 0.1 * rng.standard_normal(10))])
    return save(g, "bias_net", 13)


def dw_net(clip=False):
    C = 16
    spread = np.exp(rng.uniform(np.log(0.05), np.log(5.0), C)).astype(np.float32)  # 100x between channels
    w1 = (rng.standard_normal((C, 1, 3, 3)) * spread[:, None, None, None]).astype(np.float32)
    w2 = (rng.standard_normal((24, C, 1, 1)) / 4).astype(np.float32)
    w3 = (rng.standard_normal((8, 24, 1, 1)) / 4).astype(np.float32)
    act = helper.make_node("Clip", ["d", "lo", "hi"], ["r"], name="relu6") if clip else helper.make_node("Relu", ["d"], ["r"], name="relu")
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["d"], group=C, pads=[1, 1, 1, 1], name="dw"), act,
             helper.make_node("Conv", ["r", "w2", "b2"], ["e"], name="pw"), helper.make_node("Relu", ["e"], ["s"], name="relu2"),
             helper.make_node("Conv", ["s", "w3", "b3"], ["y"], name="head")]
    inits = [init("w1", w1), init("b1", 0.1 * rng.standard_normal(C)), init("w2", w2), init("b2", 0.1 * rng.standard_normal(24)),
             init("w3", w3), init("b3", 0.1 * rng.standard_normal(8))]
    if clip:
        inits += [init("lo", np.float32(0)), init("hi", np.float32(6))]
    g = helper.make_graph(nodes, "dw_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 8, 8])], inits)
    return save(g, "dw_clip" if clip else "dw_net", 13)


def data(name, shape, mean=0.0):
    x = (rng.standard_normal(shape) + mean).astype(np.float32)
    np.save(path(name + ".npy"), x)
    return path(name + ".npy"), x


def report(f):
    with open(f) as fh:
        return {l["node"]: l for l in json.load(fh)["layers"]}


# ---- SmoothQuant ---------------------------------------------------------------------------------
m = ln_block()
calib, _ = data("ln_calib", (200, T, D))
_, xt = data("ln_test", (100, T, D))
ref = cq_run(m, xt)
ptq(m, calib, path("ln_plain.onnx"))
p = ptq(m, calib, path("ln_smooth.onnx"), "--smooth", "0.5", "--report", path("ln_smooth.json"))
s0, s1 = sqnr(ref, cq_run(path("ln_plain.onnx"), xt)), sqnr(ref, cq_run(path("ln_smooth.onnx"), xt))
print(f"ln_block int8 output SQNR: {s0:.1f} dB without smoothing, {s1:.1f} dB with --smooth 0.5")
check(s1 > s0 + SMOOTH_MARGIN_DB, f"--smooth 0.5 raises the int8 output SQNR by more than {SMOOTH_MARGIN_DB} dB ({s0:.1f} -> {s1:.1f})")
check("SmoothQuant (3 layers" in p.stdout, "the printed report has the SmoothQuant section")
rep = report(path("ln_smooth.json"))
sq, sk, so = rep["q_proj"].get("smooth"), rep["k_proj"].get("smooth"), rep["out_proj"].get("smooth")
check(sq is not None and sk is not None and so is not None, "the report has a smooth entry for every MatMul")
check(sq["folded_into"] == "LayerNormalization" and sq["s_min"] == sk["s_min"] and sq["s_max"] == sk["s_max"] and sq["channels"] == D,
      f"q and k share one s folded into the LayerNorm ({sq})")
check(so["folded_into"] == "Mul (inserted)", f"out_proj's 1/s is an inserted Mul (after Relu): {so['folded_into']}")
check(sq["act_ratio_before"] > 20 and sq["act_ratio_after"] < sq["act_ratio_before"] / 4 and sq["alpha"] == 0.5,
      f"the LN output's max/median channel ratio falls ({sq['act_ratio_before']:.1f} -> {sq['act_ratio_after']:.2f})")
# the smoothed float model: the rewrite is exact in float
ptq(m, calib, path("ln_smooth_float.onnx"), "--smooth", "0.5", "--format", "trt-cache")
fm = onnx.load(path("ln_smooth_float.onnx"))
check(any(n.op_type == "Mul" for n in fm.graph.node), "the smoothed float model has the inserted Mul")
yf = cq_run(path("ln_smooth_float.onnx"), xt)
err = np.abs(yf - ref).max() / np.abs(ref).max()
check(err < 1e-5, f"the smoothed float model equals the original (max error {err:.2e} of the largest output)")
qm = onnx.load(path("ln_smooth.onnx"))
lnode = [n for n in qm.graph.node if n.op_type == "LayerNormalization"][0]
gq = numpy_helper.to_array([i for i in qm.graph.initializer if i.name == lnode.input[1]][0])
check(gq.max() / np.median(gq) < 10, f"the written LayerNorm scale carries 1/s (max/median {gq.max() / np.median(gq):.2f}, was 40)")
if HAVE_ORT:  # the file ORT runs exactly on this CPU (tests/ort_cpu.py): the same, with 7-bit weights where it has no VNNI
    so = path("ln_smooth.onnx" if EXACT else "ln_smooth_rr.onnx")
    if not EXACT:
        ptq(m, calib, so, "--smooth", "0.5", *REDUCE)
    yo = ort(so, xt)
    check(sqnr(cq_run(so, xt), yo) > 40, f"ONNX Runtime runs the smoothed QDQ file and agrees with cquant (> 40 dB){NOTE}")
    yi = cq_run(so, xt, "int")
    check(sqnr(yo, yi) > 30, f"cquant's integer execution agrees with ONNX Runtime ({sqnr(yo, yi):.1f} dB)")

m = ln_decomposed()
ptq(m, calib, path("lnd_plain.onnx"))
ptq(m, calib, path("lnd_smooth.onnx"), "--smooth", "0.5", "--report", path("lnd.json"))
ref = cq_run(m, xt)
s0, s1 = sqnr(ref, cq_run(path("lnd_plain.onnx"), xt)), sqnr(ref, cq_run(path("lnd_smooth.onnx"), xt))
print(f"ln_decomposed int8 output SQNR: {s0:.1f} dB without smoothing, {s1:.1f} dB with --smooth 0.5")
check(s1 > s0 + SMOOTH_MARGIN_DB, f"opset-13 LayerNorm (Mul -> Add): --smooth 0.5 helps as much ({s0:.1f} -> {s1:.1f})")
check(report(path("lnd.json"))["fc"]["smooth"]["folded_into"] == "Add", "1/s folded through the Add into the Mul's constant")
check(not any(n.op_type == "Mul" and n.name.endswith("SmoothQuant") for n in onnx.load(path("lnd_smooth.onnx")).graph.node),
      "no Mul inserted where the producer takes 1/s")

# ---- bias correction -----------------------------------------------------------------------------
m = bias_net()
chm = np.linspace(0.5, 2.0, 8).astype(np.float32)[None, :, None, None]
calib_b = path("b_calib.npy")
np.save(calib_b, (rng.standard_normal((400, 8, 10, 10)) * 0.5 + chm).astype(np.float32))
xb = (rng.standard_normal((200, 8, 10, 10)) * 0.5 + chm).astype(np.float32)
ref = cq_run(m, xb)
ptq(m, calib_b, path("b_plain.onnx"), "--weights", "int4")
p = ptq(m, calib_b, path("b_corr.onnx"), "--weights", "int4", "--bias-correction", "--report", path("b.json"))
e0 = np.abs((cq_run(path("b_plain.onnx"), xb) - ref).mean(0)).mean()
e1 = np.abs((cq_run(path("b_corr.onnx"), xb) - ref).mean(0)).mean()
print(f"bias_net int4 weights: mean output error {e0:.4g} without bias correction, {e1:.4g} with")
check(e1 * BIAS_FACTOR < e0, f"--bias-correction shrinks the mean output error more than {BIAS_FACTOR}x ({e0:.4g} -> {e1:.4g})")
rb = report(path("b.json"))
check(rb["conv"].get("bias_correction", {}).get("norm", 0) > 0 and rb["fc"].get("bias_correction", {}).get("norm", 0) > 0,
      "the report gives each layer's correction norm")
check("bias correction (2 layers" in p.stdout, "the printed report has the bias-correction section")
conv = [n for n in onnx.load(path("b_corr.onnx")).graph.node if n.op_type == "Conv"][0]
check(len(conv.input) == 3 and conv.input[2], "the Conv without a bias got one")
if HAVE_ORT:
    check(sqnr(cq_run(path("b_corr.onnx"), xb), ort(path("b_corr.onnx"), xb)) > 40, "ONNX Runtime runs the corrected file and agrees with cquant")
# the MatMul form: a correction Add after a MatMul with no bias, the Add constant of one with a bias
m = ln_block()
ptq(m, calib, path("ln_bc.onnx"), "--weights", "int4", "--bias-correction")
qn = onnx.load(path("ln_bc.onnx")).graph.node
check(any(n.op_type == "Add" and n.name == "out_proj_BiasCorrection" for n in qn), "a MatMul without a bias gets an Add of the correction")
check(any(n.name == "q_bias" and n.input[1] == "q_proj_bias_corrected" for n in qn), "a MatMul + Add(bias) has its Add constant corrected")
ref = cq_run(m, xt)
if HAVE_ORT:
    check(sqnr(cq_run(path("ln_bc.onnx"), xt), ort(path("ln_bc.onnx"), xt)) > 40, "ONNX Runtime runs it and agrees with cquant")

# ---- cross-layer equalization --------------------------------------------------------------------
m = dw_net()
calib_d, xd = data("d_calib", (100, 16, 8, 8))
ref = cq_run(m, xd)
p = ptq(m, calib_d, path("d_cle_float.onnx"), "--cle", "--format", "trt-cache")
yf = cq_run(path("d_cle_float.onnx"), xd)
err = np.abs(yf - ref).max() / np.abs(ref).max()
check(err < 1e-5, f"the equalized float model equals the original within 1e-5 relative ({err:.2e})")
fm = onnx.load(path("d_cle_float.onnx"))
w1 = [numpy_helper.to_array(i) for i in fm.graph.initializer if i.name == [n for n in fm.graph.node if n.name == "dw"][0].input[1]][0]
r = np.abs(w1).reshape(16, -1).max(1)
w1o = [numpy_helper.to_array(i) for i in onnx.load(m).graph.initializer if i.name == "w1"][0]
ro = np.abs(w1o).reshape(16, -1).max(1)
print(f"dw_net depthwise weight per-channel range spread: {ro.max() / ro.min():.1f} before --cle, {r.max() / r.min():.2f} after")
check(r.max() / r.min() < ro.max() / ro.min() / 4, "--cle shrinks the depthwise weight's per-channel range spread more than 4x")
p = ptq(m, calib_d, path("d_cle.onnx"), "--cle", "--report", path("d.json"))
rd = report(path("d.json"))
check(rd["dw"].get("cle", {}).get("next") == "pw" and rd["pw"].get("cle", {}).get("next") == "head", "the report lists the pairs dw -> pw -> head")
check(rd["dw"]["cle"]["spread_after"] < rd["dw"]["cle"]["spread_before"], "the report gives the spread before and after")
check("cross-layer equalization (2 pairs" in p.stdout, "the printed report has the CLE section")
if HAVE_ORT:
    check(sqnr(cq_run(path("d_cle.onnx"), xd), ort(path("d_cle.onnx"), xd)) > 35, "ONNX Runtime runs the equalized QDQ file and agrees with cquant")

# ---- nothing to do: the same bytes ---------------------------------------------------------------
def none_net():
    C = 16
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["d"], group=C, pads=[1, 1, 1, 1], name="dw"),
             helper.make_node("Clip", ["d", "lo", "hi"], ["r"], name="relu6"), helper.make_node("Conv", ["r", "w2", "b2"], ["y"], name="pw")]
    inits = [init("w1", rng.standard_normal((C, 1, 3, 3))), init("b1", np.zeros(C)), init("w2", rng.standard_normal((24, C, 1, 1)) / 4),
             init("b2", np.zeros(24)), init("lo", np.float32(0)), init("hi", np.float32(6))]
    g = helper.make_graph(nodes, "none_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 24, 8, 8])], inits)
    return save(g, "none_net", 13)


m = none_net()
ptq(m, calib_d, path("n_plain.onnx"))
p = ptq(m, calib_d, path("n_all.onnx"), "--smooth", "0.5", "--cle")
with open(path("n_plain.onnx"), "rb") as a, open(path("n_all.onnx"), "rb") as b:
    check(a.read() == b.read(), "a model without MatMul/Gemm or Conv -> [Relu] -> Conv pairs is written byte for byte as without --smooth --cle")
check("SmoothQuant (" not in p.stdout and "cross-layer equalization (" not in p.stdout, "and the report lists no rewrite")

# ---- bad input -----------------------------------------------------------------------------------
for extra, what in ((["--smooth", "1.5"], "alpha"), (["--smooth", "-0.1"], "alpha"), (["--smooth", "x"], "alpha"),
                    (["--mode", "dynamic", "--smooth", "0.5"], "dynamic")):
    out = path("bad.onnx")
    args = ["ptq", path("ln_block.onnx"), "-o", out, *extra] + ([] if "dynamic" in extra else ["--calib", calib])
    p = cquant(*args)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 1 and len(lines) == 1 and "--smooth" in lines[0] and not os.path.exists(out),
          f"{' '.join(extra)}: one error line, exit 1, nothing written ({lines})")

shutil.rmtree(TMP, ignore_errors=True)
print(f"{failed} failed" if failed else "all passed")
sys.exit(1 if failed else 0)
