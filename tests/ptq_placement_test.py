#!/usr/bin/env python3
"""cquant ptq's QDQ placement options and per-node overrides (issue 11): activation-activation
MatMul (--quantize-act-matmul on|off), --quantize-ops (LayerNormalization, Softmax with its fixed
[0, 1] output parameters, the Erf form of Gelu, Sigmoid, ReduceMean) and --overrides FILE.json
(exclude, weight type, granularity, activation method), each checked in the written file (which
nodes read DequantizeLinear, scales, types, block sizes), in the report, and in execution: ONNX
Runtime runs every file and cquant's integer runtime agrees with it. Bad override files: one line
naming the node or key, exit 1, nothing written.
The models are a small attention block and a pre-norm residual stream made here with onnx.helper
(the residual sums read by a LayerNorm stay float).
usage: ptq_placement_test.py CQUANT"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from ort_cpu import EXACT  # noqa: E402  (tests/: ORT's int8 kernels on this CPU)
import onnx
from onnx import TensorProto, helper, numpy_helper

CQ = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAVE_ORT = os.path.isdir(os.path.join(ROOT, "tools/ort/node_modules/onnxruntime-node")) and shutil.which("node")
fails = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f"  {detail}" if detail else ""))
    if not ok:
        fails.append(name)


def cq(*args):
    return subprocess.run([CQ, *args], capture_output=True, text=True)


def save_model(nodes, name, inits, D, path):
    """Graph x [N, 8, D] -> logits [N, 4] at opset 17, checked and saved."""
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, D])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def attention_model(path, mask=False):
    """x [N, 8, 16] -> q k v MatMuls -> q k^T -> Softmax -> . v -> LayerNorm -> Gelu (Erf form)
    -> MatMul -> ReduceMean -> Sigmoid -> Gemm -> logits [N, 4]."""
    rng = np.random.default_rng(0)
    D = 16
    inits = [numpy_helper.from_array((rng.standard_normal((D, D)) / 4).astype(np.float32), n) for n in ("Wq", "Wk", "Wv", "Wo")]
    inits += [numpy_helper.from_array(np.ones(D, np.float32), "gamma"), numpy_helper.from_array(np.zeros(D, np.float32), "beta"),
              numpy_helper.from_array(np.float32(1.4142135), "sqrt2"), numpy_helper.from_array(np.float32(1.0), "one"),
              numpy_helper.from_array(np.float32(0.5), "half"),
              numpy_helper.from_array((rng.standard_normal((4, D)) / 4).astype(np.float32), "Wf"),
              numpy_helper.from_array(rng.standard_normal(4).astype(np.float32) / 10, "bf")]
    N = [helper.make_node("MatMul", ["x", "Wq"], ["q"], name="q_mm"), helper.make_node("MatMul", ["x", "Wk"], ["k"], name="k_mm"),
         helper.make_node("MatMul", ["x", "Wv"], ["v"], name="v_mm"),
         helper.make_node("Transpose", ["k"], ["kt"], name="kt", perm=[0, 2, 1]),
         helper.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
         helper.make_node("Softmax", ["sm" if mask else "s"], ["p"], name="softmax", axis=-1),
         helper.make_node("MatMul", ["p", "v"], ["o"], name="context"),
         helper.make_node("LayerNormalization", ["o", "gamma", "beta"], ["ln"], name="ln", axis=-1),
         helper.make_node("Div", ["ln", "sqrt2"], ["d"], name="g_div"), helper.make_node("Erf", ["d"], ["e"], name="g_erf"),
         helper.make_node("Add", ["e", "one"], ["e1"], name="g_add"), helper.make_node("Mul", ["ln", "e1"], ["m"], name="g_mul"),
         helper.make_node("Mul", ["m", "half"], ["g"], name="g_half"),
         helper.make_node("MatMul", ["g", "Wo"], ["y"], name="o_mm"),
         helper.make_node("ReduceMean", ["y"], ["r"], name="pool", axes=[1], keepdims=0),
         helper.make_node("Sigmoid", ["r"], ["sg"], name="sigmoid"),
         helper.make_node("Gemm", ["sg", "Wf", "bf"], ["logits"], name="head", transB=1)]
    if mask:  # a causal mask added to the scores (-1e4 above the diagonal)
        inits.append(numpy_helper.from_array(np.triu(np.full((8, 8), -1e4, np.float32), 1), "causal"))
        N.insert(5, helper.make_node("Add", ["s", "causal"], ["sm"], name="mask_add"))
    save_model(N, "attn", inits, D, path)


def residual_model(path):
    """A pre-norm residual stream: x -> LN -> MatMul -> s = x + h -> LN -> two MatMuls -> t = y1 + y2 ->
    MatMul -> res = s + u -> the opset-13 export of a LayerNorm (ReduceMean, Sub, ...) -> ReduceMean ->
    Gemm. s and res are residual sums read by a normalization; t is an Add of two branches that is not."""
    rng = np.random.default_rng(1)
    D = 16
    w = {k: (rng.standard_normal((D, D)) / 4).astype(np.float32) for k in ("W1", "W2", "W3", "W4")}
    inits = [numpy_helper.from_array(v, k) for k, v in w.items()]
    inits += [numpy_helper.from_array(np.ones(D, np.float32), "gamma"), numpy_helper.from_array(np.zeros(D, np.float32), "beta"),
              numpy_helper.from_array(np.float32(1e-5), "eps"), numpy_helper.from_array((rng.standard_normal((4, D)) / 4).astype(np.float32), "Wf"),
              numpy_helper.from_array(np.zeros(4, np.float32), "bf")]
    N = [helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["ln1"], name="ln1"),
         helper.make_node("MatMul", ["ln1", "W1"], ["h"], name="mm1"), helper.make_node("Add", ["x", "h"], ["s"], name="res1"),
         helper.make_node("LayerNormalization", ["s", "gamma", "beta"], ["ln2"], name="ln2"),
         helper.make_node("MatMul", ["ln2", "W2"], ["y1"], name="mm2"), helper.make_node("MatMul", ["ln2", "W3"], ["y2"], name="mm3"),
         helper.make_node("Add", ["y1", "y2"], ["t"], name="branches"), helper.make_node("MatMul", ["t", "W4"], ["u"], name="mm4"),
         helper.make_node("Add", ["s", "u"], ["res"], name="res2"),
         helper.make_node("ReduceMean", ["res"], ["mu"], name="ln3_mean", axes=[-1]), helper.make_node("Sub", ["res", "mu"], ["dd"], name="ln3_sub"),
         helper.make_node("Mul", ["dd", "dd"], ["sq"], name="ln3_sq"), helper.make_node("ReduceMean", ["sq"], ["var"], name="ln3_var", axes=[-1]),
         helper.make_node("Add", ["var", "eps"], ["ve"], name="ln3_eps"), helper.make_node("Sqrt", ["ve"], ["sd"], name="ln3_sqrt"),
         helper.make_node("Div", ["dd", "sd"], ["z"], name="ln3_div"),
         helper.make_node("ReduceMean", ["z"], ["r"], name="pool", axes=[1], keepdims=0),
         helper.make_node("Gemm", ["r", "Wf", "bf"], ["logits"], name="head", transB=1)]
    save_model(N, "residual", inits, D, path)


def producer(m, t):
    for n in m.graph.node:
        if t in n.output:
            return n
    return None


def node(m, name):
    return next(n for n in m.graph.node if n.name == name)


def init(m, name):
    for i in m.graph.initializer:
        if i.name == name:
            return i
    return None


def dq_in(m, nd, k):
    """The DequantizeLinear feeding input k of node nd (None when it reads a float tensor)."""
    p = producer(m, nd.input[k])
    return p if p is not None and p.op_type == "DequantizeLinear" else None


def scale_of(m, dq):
    return numpy_helper.to_array(init(m, dq.input[1]))


def consumers(m, t):
    return [n for n in m.graph.node if t in n.input]


def run_both(model, x, tmp, opt="all"):
    """(cquant --exec int outputs, ORT outputs or None)."""
    d = tempfile.mkdtemp(dir=tmp)
    np.save(f"{d}/x.npy", x)
    r = cq("run", model, "--input", f"x={d}/x.npy", "--output-dir", d, "--exec", "int")
    cqo = np.load(f"{d}/logits.npy") if r.returncode == 0 else r.stderr
    if not HAVE_ORT:
        return cqo, None
    od = tempfile.mkdtemp(dir=tmp)
    r = subprocess.run(["node", os.path.join(ROOT, "tools/ort/run.js"), model, od, f"x={d}/x.npy", "--opt", opt], capture_output=True, text=True)
    return cqo, (np.load(f"{od}/logits.npy") if r.returncode == 0 else r.stderr)


def agree(name, model, x, tmp, opt="all"):
    if not EXACT and opt == "all":  # ORT's fused int8 kernels saturate on this CPU (tests/ort_cpu.py): they must
        a, b = run_both(model, x, tmp, opt)  # still take the file; the values are compared with its QDQ semantics
        if isinstance(b, str) or isinstance(a, str):
            return check(name + ": cquant and ONNX Runtime (all optimizations) run it", False, (b if isinstance(b, str) else a)[-300:])
        opt, name = "basic", name + " (ORT at level basic: this CPU has no VNNI)"
    a, b = run_both(model, x, tmp, opt)
    if isinstance(a, str):
        return check(name + ": cquant --exec int runs it", False, a[-300:])
    if b is None:
        return check(name + ": cquant runs it (no ONNX Runtime here)", a.shape == (len(x), 4))
    if isinstance(b, str):
        return check(name + ": ONNX Runtime runs it", False, b[-300:])
    share = float((a.argmax(1) == b.argmax(1)).mean())
    check(name + ": cquant --exec int and ONNX Runtime agree (argmax >= 99.5%, close values)", share >= 0.995 and np.abs(a - b).max() < 0.05,
          f"agree {100 * share:.1f}%, max |diff| {np.abs(a - b).max():.4f}")


def main():
    tmp = tempfile.mkdtemp(prefix="cquant_place.")
    model, calib = f"{tmp}/attn.onnx", f"{tmp}/calib.npy"
    attention_model(model)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 8, 16)).astype(np.float32)
    np.save(calib, x[:48])

    # --- activation-activation MatMul: default on, off on request
    on, off = f"{tmp}/on.onnx", f"{tmp}/off.onnx"
    r = cq("ptq", model, "--calib", calib, "-o", on, "--batch", "16")
    check("ptq default", r.returncode == 0, r.stderr)
    r = cq("ptq", model, "--calib", calib, "-o", off, "--batch", "16", "--quantize-act-matmul", "off")
    check("ptq --quantize-act-matmul off", r.returncode == 0, r.stderr)
    m_on, m_off = onnx.load(on), onnx.load(off)
    for nm in ("scores", "context"):
        nd = node(m_on, nm)
        a, b = dq_in(m_on, nd, 0), dq_in(m_on, nd, 1)
        check(f"default: {nm} reads DequantizeLinear on both inputs, per-tensor scales of their own",
              a is not None and b is not None and scale_of(m_on, a).size == 1 and scale_of(m_on, b).size == 1 and a.input[1] != b.input[1])
        check(f"default: {nm}'s output is quantized", any(c.op_type == "QuantizeLinear" for c in consumers(m_on, nd.output[0])))
    # off: the scores stay float, and so does the Softmax output the context MatMul reads (q, k^T and v
    # are quantized either way: the outputs of the projections and what passes through Transpose)
    check("off: the scores MatMul's output is not quantized", not any(c.op_type == "QuantizeLinear" for c in consumers(m_off, "s")))
    check("off: the context MatMul reads the Softmax output in float", dq_in(m_off, node(m_off, "context"), 0) is None)
    check("default: the q-projection (constant weight) is quantized as before", dq_in(m_on, node(m_on, "q_mm"), 1) is not None)
    check("default: the Gelu pattern reads float", dq_in(m_on, node(m_on, "g_div"), 0) is None)
    for t, op in (("ln", "LayerNormalization"), ("r", "ReduceMean")):
        check(f"default: {op}'s output '{t}' is not quantized", not any(c.op_type == "QuantizeLinear" for c in consumers(m_on, t)))
    check("default: Sigmoid reads float", dq_in(m_on, node(m_on, "sigmoid"), 0) is None)
    sq = next(c for c in consumers(m_on, "p") if c.op_type == "QuantizeLinear")  # the context MatMul's input
    check("default: the Softmax output's scale is calibrated (not fixed)", float(numpy_helper.to_array(init(m_on, sq.input[1]))) != 1 / 256)
    # the integer form of the act-act MatMuls: QLinearMatMul with both operands activations
    qop = f"{tmp}/on_qop.onnx"
    r = cq("ptq", model, "--calib", calib, "-o", qop, "--batch", "16", "--format", "qop")
    mq = onnx.load(qop) if r.returncode == 0 else None
    inits = {i.name for i in mq.graph.initializer} if mq else set()
    qlm = [n for n in mq.graph.node if n.op_type == "QLinearMatMul" and n.input[0] not in inits and n.input[3] not in inits] if mq else []
    check("the integer rewrite makes QLinearMatMul of two activations for both act-act MatMuls", len(qlm) == 2, r.stderr)
    agree("default", on, x, tmp)
    agree("act-act MatMul off", off, x, tmp)

    # fp8 activations: the inputs of every GEMM, the act-act ones included, are float8e4m3fn pairs
    f8 = f"{tmp}/fp8.onnx"
    r = cq("ptq", model, "--calib", calib, "-o", f8, "--batch", "16", "--weights", "fp8e4m3", "--act", "fp8e4m3")
    check("ptq --weights fp8e4m3 --act fp8e4m3", r.returncode == 0, r.stderr)
    m8 = onnx.load(f8) if r.returncode == 0 else None
    for nm in ("scores", "context", "q_mm"):
        nd = node(m8, nm) if m8 else None
        dqs = [dq_in(m8, nd, k) for k in (0, 1)] if nd else [None, None]
        types = [init(m8, d.input[2]).data_type if d is not None and len(d.input) > 2 else None for d in dqs]
        check(f"fp8: {nm} reads float8e4m3fn DequantizeLinear on both inputs", types == [17] * 2, str(types))  # FLOAT8E4M3FN (onnx 1.12 has no name for it)
    check("fp8: Softmax and LayerNormalization outputs stay float (only GEMM inputs are quantized)",
          m8 is not None and not any(c.op_type == "QuantizeLinear" for t in ("s", "ln") for c in consumers(m8, t)))
    r = cq("ptq", model, "--calib", calib, "-o", f"{tmp}/fp8_off.onnx", "--batch", "16", "--weights", "fp8e4m3", "--act", "fp8e4m3",
           "--quantize-act-matmul", "off")
    m8o = onnx.load(f"{tmp}/fp8_off.onnx") if r.returncode == 0 else None
    check("fp8 with --quantize-act-matmul off: the scores MatMul reads float", m8o is not None and dq_in(m8o, node(m8o, "scores"), 0) is None, r.stderr)
    if m8:
        agree("fp8 (ORT at optimization level basic)", f8, x, tmp, opt="basic")
    r = cq("ptq", model, "--calib", calib, "-o", f"{tmp}/fp8_ops.onnx", "--weights", "fp8e4m3", "--act", "fp8e4m3", "--quantize-ops", "Softmax")
    lines = r.stderr.strip().splitlines()
    check("fp8 with --quantize-ops: one line naming the option, exit 1, nothing written",
          r.returncode == 1 and len(lines) == 1 and "--quantize-ops is an int8" in lines[0] and not os.path.exists(f"{tmp}/fp8_ops.onnx"), r.stderr)

    # an act-act MatMul whose output is a graph output (float): MatMulInteger -> Cast -> Mul in the integer rewrite
    gm = f"{tmp}/gram.onnx"
    gg = helper.make_graph([helper.make_node("Transpose", ["x"], ["xt"], name="xt", perm=[0, 2, 1]),
                            helper.make_node("MatMul", ["x", "xt"], ["gram"], name="gram")], "gram",
                           [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 16])],
                           [helper.make_tensor_value_info("gram", TensorProto.FLOAT, ["N", 8, 8])])
    gmod = helper.make_model(gg, opset_imports=[helper.make_opsetid("", 17)])
    gmod.ir_version = 8
    onnx.save(gmod, gm)
    r = cq("ptq", gm, "--calib", calib, "-o", f"{tmp}/gram_q.onnx", "--batch", "16", "--format", "qop")
    mg = onnx.load(f"{tmp}/gram_q.onnx") if r.returncode == 0 else None
    check("an act-act MatMul with a float output becomes MatMulInteger -> Cast -> Mul",
          mg is not None and [n.op_type for n in mg.graph.node if n.op_type in ("MatMulInteger", "Cast", "Mul", "MatMul")] == ["MatMulInteger", "Cast", "Mul"],
          r.stderr)
    r = cq("ptq", gm, "--calib", calib, "-o", f"{tmp}/gram_qdq.onnx", "--batch", "16")
    d = tempfile.mkdtemp(dir=tmp)
    np.save(f"{d}/x.npy", x)
    ri = cq("run", f"{tmp}/gram_qdq.onnx", "--input", f"x={d}/x.npy", "--output-dir", d, "--exec", "int")
    gi = np.load(f"{d}/gram.npy") if ri.returncode == 0 else None
    rf = cq("run", f"{tmp}/gram_qdq.onnx", "--input", f"x={d}/x.npy", "--output-dir", d, "--exec", "float")
    gf = np.load(f"{d}/gram.npy") if rf.returncode == 0 else None
    check("MatMulInteger form equals the fake-quantized MatMul (float sums of the same products)",
          gi is not None and gf is not None and np.allclose(gi, gf, rtol=1e-5, atol=1e-4), ri.stderr + rf.stderr)
    if HAVE_ORT:
        od = tempfile.mkdtemp(dir=tmp)
        ro = subprocess.run(["node", os.path.join(ROOT, "tools/ort/run.js"), f"{tmp}/gram_qdq.onnx", od, f"x={d}/x.npy"], capture_output=True, text=True)
        go = np.load(f"{od}/gram.npy") if ro.returncode == 0 else None
        check("ONNX Runtime agrees on that file", go is not None and gi is not None and np.allclose(gi, go, rtol=1e-4, atol=1e-3), ro.stderr[-300:])

    # --- --quantize-ops
    ops = f"{tmp}/ops.onnx"
    rep = f"{tmp}/ops_report.json"
    r = cq("ptq", model, "--calib", calib, "-o", ops, "--batch", "16", "--quantize-ops", "LayerNormalization,Softmax,Gelu,Sigmoid,ReduceMean",
           "--report", rep)
    check("ptq --quantize-ops", r.returncode == 0, r.stderr)
    mo = onnx.load(ops)
    for nm in ("softmax", "ln", "sigmoid", "pool"):
        nd = node(mo, nm)
        check(f"--quantize-ops: {nm} reads DequantizeLinear and its output is quantized",
              dq_in(mo, nd, 0) is not None and any(c.op_type == "QuantizeLinear" for c in consumers(mo, nd.output[0])))
    sq = next(c for c in consumers(mo, "p") if c.op_type == "QuantizeLinear")
    check("Softmax output: the fixed parameters of [0, 1] (scale 1/256, zero-point 0, uint8; eq. 47)",
          float(numpy_helper.to_array(init(mo, sq.input[1]))) == 1 / 256 and int(numpy_helper.to_array(init(mo, sq.input[2]))) == 0 and
          init(mo, sq.input[2]).data_type == TensorProto.UINT8)
    check("Gelu pattern: Div and the Mul read the dequantized input, its final Mul's output is quantized",
          dq_in(mo, node(mo, "g_div"), 0) is not None and dq_in(mo, node(mo, "g_mul"), 0) is not None and
          any(c.op_type == "QuantizeLinear" for c in consumers(mo, "g")))
    check("Gelu pattern: the Erf inside stays float", dq_in(mo, node(mo, "g_erf"), 0) is None)
    js = json.load(open(rep))
    by = {layer["node"]: layer for layer in js["layers"]}
    check("report: Softmax's activation method is 'fixed' with [0, 1]", by.get("softmax", {}).get("activation", {}).get("method") == "fixed" and
          by["softmax"]["activation"]["max"] == 1.0)
    check("report: the Gelu layer is named by its Erf node, op Gelu", by.get("g_erf", {}).get("op") == "Gelu")
    agree("--quantize-ops", ops, x, tmp)
    masked = f"{tmp}/masked.onnx"
    attention_model(masked, mask=True)
    r = cq("ptq", masked, "--calib", calib, "-o", f"{tmp}/mq.onnx", "--batch", "16", "--quantize-ops", "Softmax")
    mm = onnx.load(f"{tmp}/mq.onnx") if r.returncode == 0 else None
    check("a Softmax after a mask Add: its input stays float, its output gets the fixed parameters",
          mm is not None and dq_in(mm, node(mm, "softmax"), 0) is None and
          float(scale_of(mm, next(c for c in consumers(mm, "p") if c.op_type == "QuantizeLinear"))) == 1 / 256, r.stderr)
    r = cq("ptq", model, "--calib", calib, "-o", f"{tmp}/x.onnx", "--quantize-ops", "Softmax,Nope")
    check("--quantize-ops unknown name: one line naming it, exit 1, nothing written",
          r.returncode == 1 and "Nope" in r.stderr and len(r.stderr.strip().splitlines()) == 1 and not os.path.exists(f"{tmp}/x.onnx"), r.stderr)

    # --- per-node overrides
    ov = {"nodes": {"q_mm": {"weights": "int4", "group": 16}, "k_mm": {"granularity": "tensor"}, "v_mm": {"exclude": True},
                    "o_mm": {"weight_bits": 2}, "context": {"act_method": "percentile", "percentile": 99.0},
                    "head": {"weight_bits": 4, "weights": "uint4", "granularity": "channel"}}}
    ovp = f"{tmp}/ov.json"
    json.dump(ov, open(ovp, "w"))
    out, rep = f"{tmp}/ov.onnx", f"{tmp}/ov_report.json"
    r = cq("ptq", model, "--calib", calib, "-o", out, "--batch", "16", "--overrides", ovp, "--report", rep)
    check("ptq --overrides", r.returncode == 0, r.stderr)
    mv = onnx.load(out)
    wq = dq_in(mv, node(mv, "q_mm"), 1)
    check("override q_mm: int4 weights (packed INT4, type 22) per group of 16 (block_size 16, opset 21)",
          wq is not None and init(mv, wq.input[0]).data_type == 22 and any(a.name == "block_size" and a.i == 16 for a in wq.attribute) and
          any(o.domain in ("", "ai.onnx") and o.version == 21 for o in mv.opset_import))
    wk = dq_in(mv, node(mv, "k_mm"), 1)
    check("override k_mm: one weight scale for the tensor (scalar scale, no axis)",
          wk is not None and scale_of(mv, wk).size == 1 and len(init(mv, wk.input[1]).dims) == 0 and not any(a.name == "axis" for a in wk.attribute))
    check("override v_mm: excluded, its weight stays a float initializer", init(mv, node(mv, "v_mm").input[1]) is not None and
          init(mv, node(mv, "v_mm").input[1]).data_type == TensorProto.FLOAT)
    wo = dq_in(mv, node(mv, "o_mm"), 1)
    wov = numpy_helper.to_array(init(mv, wo.input[0])) if wo is not None else None
    check("override o_mm: weight_bits 2: int2 values -2..1 in int8, per channel", wov is not None and wov.dtype == np.int8 and wov.min() >= -2 and
          wov.max() <= 1 and scale_of(mv, wo).size == 16)
    wh = dq_in(mv, node(mv, "head"), 1)
    check("override head: uint4 weights (packed UINT4, type 21) with zero-points", wh is not None and init(mv, wh.input[0]).data_type == 21)
    wd = dq_in(m_on, node(m_on, "scores"), 0)
    check("the other layers keep the options' int8 per-channel weights",
          init(mv, dq_in(mv, node(mv, "scores"), 0).input[0]) is None and scale_of(m_on, dq_in(m_on, node(m_on, "q_mm"), 1)).size == 16 and wd is not None)
    js = json.load(open(rep))
    by = {layer["node"]: layer for layer in js["layers"]}
    w = lambda n: by[n].get("weights", {})  # noqa: E731
    check("report: q_mm int4 group 16", w("q_mm").get("dtype") == "int4" and w("q_mm").get("granularity") == "group" and
          w("q_mm").get("group_size") == 16 and by["q_mm"].get("override") is True, json.dumps(by.get("q_mm"))[:300])
    check("report: k_mm per tensor, o_mm int2, head uint4", w("k_mm").get("granularity") == "tensor" and w("o_mm").get("bits") == 2 and
          w("head").get("dtype") == "uint4")
    check("report: v_mm excluded", by["v_mm"]["excluded"] is True)
    act = by["context"].get("activation", {})
    check("report: context's output by percentile 99", act.get("method") == "percentile" and act.get("method_param") == 99.0, json.dumps(act))
    check("report: the others by minmax", by["scores"]["activation"]["method"] == "minmax")
    ctx_on = scale_of(m_on, next(c for c in consumers(m_on, "o") if c.op_type == "QuantizeLinear"))
    ctx_ov = scale_of(mv, next(c for c in consumers(mv, "o") if c.op_type == "QuantizeLinear"))
    check("context's output scale (percentile 99) is smaller than minmax's", float(ctx_ov) < float(ctx_on), f"{float(ctx_ov)} vs {float(ctx_on)}")
    check("printed table: formats and methods per layer", "s4/g16" in r.stdout and "s8/t" in r.stdout and "percentile 99" in r.stdout and
          "(override)" in r.stdout, r.stdout[-2000:])
    agree("--overrides", out, x, tmp)
    # SmoothQuant rebuilds the session's layers on the smoothed model: the overrides must survive it
    r = cq("ptq", model, "--calib", calib, "-o", f"{tmp}/ov_smooth.onnx", "--batch", "16", "--overrides", ovp, "--smooth", "0.5")
    ms = onnx.load(f"{tmp}/ov_smooth.onnx") if r.returncode == 0 else None
    wq = dq_in(ms, node(ms, "q_mm"), 1) if ms else None
    check("--overrides with --smooth: q_mm still int4 per group of 16, v_mm still float",
          wq is not None and init(ms, wq.input[0]).data_type == 22 and any(a.name == "block_size" and a.i == 16 for a in wq.attribute) and
          dq_in(ms, node(ms, "v_mm"), 1) is None, r.stderr.strip()[-300:])

    # --- bad override files: one line naming the node or key, exit 1, nothing written
    bad = [("missing node", '{"nodes": {"nosuch": {"exclude": true}}}', "nosuch"),
           ("node that is no layer", '{"nodes": {"softmax": {"exclude": true}}}', "softmax"),
           ("unknown key", '{"nodes": {"q_mm": {"bits": 4}}}', "bits"),
           ("bad weight type", '{"nodes": {"q_mm": {"weights": "int3"}}}', "weights"),
           ("bad group", '{"nodes": {"q_mm": {"group": 7}}}', "group"),
           ("bad method", '{"nodes": {"q_mm": {"act_method": "max"}}}', "act_method"),
           ("bad percentile", '{"nodes": {"q_mm": {"percentile": 101}}}', "percentile"),
           ("weights on a layer without", '{"nodes": {"scores": {"weights": "int4"}}}', "scores"),
           ("contradiction", '{"nodes": {"q_mm": {"weights": "int8", "weight_bits": 4}}}', "weight_bits"),
           ("exclude with settings", '{"nodes": {"q_mm": {"exclude": true, "weights": "int4"}}}', "q_mm"),
           ("unknown top-level key", '{"node": {}}', "node"),
           ("node given twice", '{"nodes": {"q_mm": {"exclude": true}, "q_mm": {"exclude": false}}}', "twice"),
           ("malformed JSON", '{"nodes": {"q_mm": {"exclude": tru', "malformed"),
           ("not an object", '[1, 2]', "object")]
    for label, text, word in bad:
        p, o, rp = f"{tmp}/bad.json", f"{tmp}/bad.onnx", f"{tmp}/bad_report.json"
        open(p, "w").write(text)
        r = cq("ptq", model, "--calib", calib, "-o", o, "--overrides", p, "--report", rp)
        lines = r.stderr.strip().splitlines()
        check(f"bad overrides ({label}): one line naming '{word}', exit 1, nothing written",
              r.returncode == 1 and len(lines) == 1 and word in lines[0] and not os.path.exists(o) and not os.path.exists(rp), r.stderr.strip())
    r = cq("ptq", model, "--calib", calib, "-o", f"{tmp}/bad.onnx", "--overrides", f"{tmp}/none.json")
    check("missing override file: one line naming it, exit 1", r.returncode == 1 and "none.json" in r.stderr and not os.path.exists(f"{tmp}/bad.onnx"))
    r = cq("ptq", model, "--mode", "dynamic", "-o", f"{tmp}/bad.onnx", "--overrides", ovp)
    check("--mode dynamic refuses --overrides", r.returncode == 1 and "--overrides" in r.stderr and not os.path.exists(f"{tmp}/bad.onnx"))

    # --- a transformer's residual sums stay float; an Add of two branches not read by a norm is quantized
    res = f"{tmp}/residual.onnx"
    residual_model(res)
    r = cq("ptq", res, "--calib", calib, "-o", f"{tmp}/rq.onnx", "--batch", "16")
    mr = onnx.load(f"{tmp}/rq.onnx") if r.returncode == 0 else None
    check("residual sums read by a LayerNorm (res1) and by its opset-13 form (res2): the stream stays float (input 0 and the sum)",
          mr is not None and all(dq_in(mr, node(mr, a), 0) is None and not any(c.op_type == "QuantizeLinear" for c in consumers(mr, o))
                                 for a, o in (("res1", "s"), ("res2", "res"))), r.stderr)
    check("the Add of two branches (not read by a norm) reads dequantized inputs and its output is quantized",
          mr is not None and all(dq_in(mr, node(mr, "branches"), k) is not None for k in (0, 1)) and
          any(c.op_type == "QuantizeLinear" for c in consumers(mr, "t")))
    if mr is not None:
        agree("residual", f"{tmp}/rq.onnx", x, tmp)
    shutil.rmtree(tmp)
    if fails:
        print(f"{len(fails)} FAILED")
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
