#!/usr/bin/python3
"""cquant ptq on graph forms detection exports have (tools/zoo's torchvision detectors): an input
without a batch axis (one C x H x W image; calibration batches of 1 are fed without their leading
axis), an Add whose operands broadcast (N,C,H,W + N,C,1,1), and an Add of int64 index arithmetic
in the middle of the float graph (it must stay integer: no QDQ on it). The written file runs in ONNX
Runtime and in cquant's integer runtime (QLinearAdd with broadcasting), which agree; a model of two
inputs given one unnamed source is refused with one line and calibrates from NAME=SOURCE per input;
an attention mask Add read by Softmax stays float.

usage: ptq_shapes_test.py PATH/TO/cquant
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from ort_cpu import NOTE, REDUCE  # noqa: E402  (tests/: ORT's int8 kernels on this CPU)

CQ = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAVE_ORT = os.path.isdir(os.path.join(ROOT, "tools/ort/node_modules/onnxruntime-node")) and shutil.which("node")
tmp = tempfile.mkdtemp(prefix="cquant_ptq_shapes.")
rng = np.random.default_rng(11)
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (" " + detail if detail else ""), flush=True)
    passed, failed = passed + bool(ok), failed + (not ok)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


# image (3, 16, 16) -> Unsqueeze -> Conv -> Relu -> Add(its GlobalAveragePool, broadcast) -> Conv;
# beside it: Shape -> Gather -> Add (int64) -> the end of a Slice of the feature map
w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32)
w2 = (rng.standard_normal((4, 8, 3, 3)) * 0.3).astype(np.float32)
nodes = [
    helper.make_node("Unsqueeze", ["image", "ax0"], ["x"]),
    helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
    helper.make_node("Relu", ["c1"], ["r1"]),
    helper.make_node("GlobalAveragePool", ["r1"], ["gp"]),
    helper.make_node("Add", ["r1", "gp"], ["a1"], name="add_bcast"),
    helper.make_node("Shape", ["a1"], ["shp"]),
    helper.make_node("Gather", ["shp", "i2"], ["h"], axis=0),
    helper.make_node("Add", ["h", "minus2"], ["hend"], name="add_index"),
    helper.make_node("Slice", ["a1", "zero", "hend", "two"], ["s1"]),
    helper.make_node("Conv", ["s1", "w2"], ["y"], pads=[1, 1, 1, 1], name="conv2"),
]
inits = [init("ax0", np.array([0], np.int64)), init("w1", w1), init("w2", w2),
         init("i2", np.array([2], np.int64)), init("minus2", np.array([-2], np.int64)), init("zero", np.array([0], np.int64)),
         init("two", np.array([2], np.int64))]
g = helper.make_graph(nodes, "det", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [3, 16, 16])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, None, None])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(m)
src, out = os.path.join(tmp, "det.onnx"), os.path.join(tmp, "det_q.onnx")
onnx.save(m, src)
cal = os.path.join(tmp, "cal.npy")
np.save(cal, rng.random((6, 3, 16, 16)).astype(np.float32))
img = os.path.join(tmp, "img.npy")
np.save(img, rng.random((3, 16, 16)).astype(np.float32))

r = subprocess.run([CQ, "ptq", src, "--calib", cal, "--batch", "1", "-o", out] + REDUCE, capture_output=True, text=True)
check("an input without a batch axis calibrates from batches of 1", r.returncode == 0 and os.path.exists(out), r.stdout + r.stderr)
r2 = subprocess.run([CQ, "ptq", src, "--calib", cal, "--batch", "2", "-o", os.path.join(tmp, "no.onnx")], capture_output=True, text=True)
check("batches of 2 for it: one error line saying to give batches of 1", r2.returncode == 1 and "batches of 1" in r2.stderr and
      len(r2.stderr.strip().splitlines()) == 1 and not os.path.exists(os.path.join(tmp, "no.onnx")), r2.stderr.strip())
if r.returncode == 0:
    q = onnx.load(out)
    prod = {o: n for n in q.graph.node for o in n.output}
    # the int64 Add keeps int64 operands: nothing dequantized feeds it
    add_idx = [n for n in q.graph.node if n.op_type == "Add" and "hend" in n.output]
    ok = len(add_idx) == 1 and all(prod.get(i) is None or prod[i].op_type != "DequantizeLinear" for i in add_idx[0].input)
    check("the int64 index Add stays integer (no QDQ around it)", ok)
    bc = [n for n in q.graph.node if n.op_type == "Add" and "a1" in "".join(n.output)]
    check("the broadcasting Add is quantized (DequantizeLinear feeds it)",
          len(bc) == 1 and sum(prod.get(i) is not None and prod[i].op_type == "DequantizeLinear" for i in bc[0].input) == 2)
    cdir, odir = os.path.join(tmp, "c"), os.path.join(tmp, "o")
    rc = subprocess.run([CQ, "run", out, "--input", f"image={img}", "--output-dir", cdir, "--exec", "int"], capture_output=True, text=True)
    check("cquant's integer runtime runs it (QLinearAdd broadcasts)", rc.returncode == 0, rc.stderr.strip())
    if HAVE_ORT and rc.returncode == 0:
        os.makedirs(odir, exist_ok=True)
        ro = subprocess.run(["node", os.path.join(ROOT, "tools/ort/run.js"), out, odir, f"image={img}"], capture_output=True, text=True)
        ok = ro.returncode == 0
        if ok:
            a, b = np.load(os.path.join(cdir, "y.npy")), np.load(os.path.join(odir, "y.npy"))
            ok = a.shape == b.shape and float(np.max(np.abs(a - b))) <= 1e-3 * max(float(np.max(np.abs(b))), 1e-6)
        check("ONNX Runtime runs the file and agrees with cquant's integer runtime" + NOTE, ok, ro.stderr.strip())

# two inputs: y = Conv(a) + Conv(b)
wa = (rng.standard_normal((4, 2, 1, 1))).astype(np.float32)
g2 = helper.make_graph([helper.make_node("Conv", ["a", "wa"], ["ca"], name="conv_a"), helper.make_node("Conv", ["b", "wa"], ["cb2"], name="conv_b"),
                        helper.make_node("Add", ["ca", "cb2"], ["y"], name="add")], "two",
                       [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 2, 5, 5]), helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 2, 5, 5])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, None, None])], [init("wa", wa)])
two = os.path.join(tmp, "two.onnx")
onnx.save(helper.make_model(g2, opset_imports=[helper.make_opsetid("", 13)]), two)
fa, fb = os.path.join(tmp, "a.npy"), os.path.join(tmp, "b.npy")
np.save(fa, rng.standard_normal((8, 2, 5, 5)).astype(np.float32))
np.save(fb, (rng.standard_normal((8, 2, 5, 5)) * 3).astype(np.float32))
r = subprocess.run([CQ, "ptq", two, "--calib", fa, "-o", os.path.join(tmp, "two_q.onnx")], capture_output=True, text=True)
check("a two-input model with one unnamed source: one error line asking for a source per input",
      r.returncode == 1 and "NAME=SOURCE" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr.strip())
two_q = os.path.join(tmp, "two_q.onnx")
r = subprocess.run([CQ, "ptq", two, "--calib", f"a={fa}", "--calib", f"b={fb}", "--eval", f"b={fb}", "--eval", f"a={fa}", "-o", two_q],
                   capture_output=True, text=True)
check("a two-input model calibrates and evaluates from one NAME=SOURCE per input (output SQNR printed)",
      r.returncode == 0 and os.path.exists(two_q) and "integer minmax" in r.stdout and " dB " in r.stdout, r.stdout[-300:] + r.stderr)
if r.returncode == 0:
    q = onnx.load(two_q)
    # b's range is three times a's: each input has its own QuantizeLinear scale
    sc = {n.input[0]: numpy_helper.to_array([t for t in q.graph.initializer if t.name == n.input[1]][0]).item()
          for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in ("a", "b")}
    check("each input of the two got its own calibrated scale", len(sc) == 2 and sc["b"] > 2 * sc["a"], str(sc))

# attention scores + mask -> Softmax: the Add stays float (the mask's -1e4 would take the 8-bit range)
wq = (rng.standard_normal((8, 8)) * 0.3).astype(np.float32)
g3 = helper.make_graph([helper.make_node("MatMul", ["x", "wq"], ["q"], name="proj"),
                        helper.make_node("MatMul", ["q", "qT"], ["s"], name="scores"),
                        helper.make_node("Add", ["s", "mask"], ["sm"], name="mask_add"),
                        helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
                        helper.make_node("MatMul", ["p", "x"], ["y"], name="ctx")], "attn",
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 8]), helper.make_tensor_value_info("qT", TensorProto.FLOAT, ["N", 8, 6]),
                        helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 6, 6])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [init("wq", wq)])
attn, attn_q = os.path.join(tmp, "attn.onnx"), os.path.join(tmp, "attn_q.onnx")
onnx.save(helper.make_model(g3, opset_imports=[helper.make_opsetid("", 13)]), attn)
fx, fq, fm = (os.path.join(tmp, f) for f in ("x.npy", "qT.npy", "mask.npy"))
np.save(fx, rng.standard_normal((4, 6, 8)).astype(np.float32))
np.save(fq, rng.standard_normal((4, 8, 6)).astype(np.float32))
np.save(fm, np.where(rng.random((4, 6, 6)) < 0.3, -1e4, 0).astype(np.float32))
r = subprocess.run([CQ, "ptq", attn, "--calib", f"x={fx}", "--calib", f"qT={fq}", "--calib", f"mask={fm}", "-o", attn_q], capture_output=True, text=True)
ok = r.returncode == 0
if ok:
    q = onnx.load(attn_q)
    prod = {o: n for n in q.graph.node for o in n.output}
    add = [n for n in q.graph.node if n.op_type == "Add"]
    # the scores are the output of an act-act MatMul (quantized by default, --quantize-act-matmul); the
    # mask operand and the Add's output (the Softmax input) stay float
    ok = len(add) == 1 and (prod.get("mask") is None or prod["mask"].op_type != "DequantizeLinear") and "mask" in add[0].input and \
        not any(n.op_type == "QuantizeLinear" and add[0].output[0] in n.input for n in q.graph.node)
check("the Add of scores and mask read by Softmax stays float", ok, r.stderr.strip())
# values read only inside an If branch (a Constant folded into an initializer, a Cast of the input):
# the cleaned and the written models keep them, placed before the If
then_g = helper.make_graph([helper.make_node("Mul", ["cx", "kc"], ["t_out"])], "then_b", [], [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, None)])
else_g = helper.make_graph([helper.make_node("Add", ["cx", "kc"], ["e_out"])], "else_b", [], [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, None)])
wc = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
g4 = helper.make_graph([helper.make_node("Constant", [], ["kc"], value=numpy_helper.from_array(np.array(2.0, np.float32))),
                        helper.make_node("Conv", ["x", "wc"], ["c"], pads=[1, 1, 1, 1], name="conv"),
                        helper.make_node("Relu", ["c"], ["cx"]),
                        helper.make_node("ReduceSum", ["x"], ["sx"], keepdims=0),
                        helper.make_node("Greater", ["sx", "zf"], ["cond"]),
                        helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)], "ifg",
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [init("wc", wc), init("zf", np.array(0.0, np.float32))])
ifm, ifq = os.path.join(tmp, "if.onnx"), os.path.join(tmp, "if_q.onnx")
onnx.save(helper.make_model(g4, opset_imports=[helper.make_opsetid("", 13)]), ifm)
fi = os.path.join(tmp, "xi.npy")
np.save(fi, rng.standard_normal((4, 3, 8, 8)).astype(np.float32))
r = subprocess.run([CQ, "ptq", ifm, "--calib", fi, "--batch", "1", "-o", ifq], capture_output=True, text=True)
ok = r.returncode == 0
if ok:
    np.save(os.path.join(tmp, "x1.npy"), np.load(fi)[:1])
    rr = subprocess.run([CQ, "run", ifq, "--input", f"x={os.path.join(tmp, 'x1.npy')}", "--output-dir", os.path.join(tmp, "ifo")], capture_output=True, text=True)
    ok = rr.returncode == 0
    r = rr if not ok else r
check("values only an If branch reads survive PTQ's clean-up and the written file runs", ok, r.stderr.strip())
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
