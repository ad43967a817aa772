#!/usr/bin/python3
"""`cquant ptq --mode dynamic` (docs/quantization.md eq. 30-33) end to end.

Models made here with PyTorch 1.13 and exported with torch.onnx at opset 13: an MLP of nn.Linear
layers (2-D input: Gemm with transB; 3-D input: MatMul + Add) and a small pre-norm transformer
encoder (separate q/k/v/out projections, GELU MLP, two blocks) whose Linear layers export as MatMul.
Hand-made Gemm forms (alpha, beta, transB = 0, an activation as C) through onnx.helper. For each:
- the file has ONNX Runtime's quantize_dynamic pattern (DynamicQuantizeLinear -> MatMulInteger ->
  Cast -> Mul(x_scale * W_scale)), int8 weights equal to an independent NumPy eq. 31, per output
  column (scales and zero-points of N entries) or per tensor (scalars), opset >= 11;
- ONNX Runtime runs it (all optimisations, i.e. fused into DynamicQuantizeMatMul, and none);
- output SQNR against the float model above a stated bound, and at least the SQNR of
  torch.ao.quantization.quantize_dynamic on the same weights (per-tensor and per-channel qconfigs);
- `cquant run --exec int` and `--exec float` agree with ONNX Runtime: bit for bit on the MLPs (only
  exact float operations between the integer ones), on the transformer (LayerNorm, Softmax and GELU
  in float: one-ulp differences can move a value across a rounding boundary of the next dynamic
  quantization) within 40 dB SQNR and with the same argmax on every sample.
Bad input: no MatMul/Gemm weight, --calib with --mode dynamic, an unknown --exclude name: one line,
exit 1, nothing written.

usage: dynamic_quant_test.py PATH/TO/cquant        (exit 77: skipped without torch or ONNX Runtime)
"""
import os
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
    import torch
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)
if not os.path.isdir(os.path.join(ROOT, "tools/ort/node_modules/onnxruntime-node")):
    print("skipped: onnxruntime-node is not installed (scripts/setup installs it from the npm registry)")
    sys.exit(77)

torch.manual_seed(0)
torch.set_num_threads(1)
TMP = tempfile.mkdtemp(prefix="cquant_dyn.")
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


def ort(model, x, opt="all"):
    out = path("ort_" + os.path.basename(model) + "_" + opt)
    os.makedirs(out, exist_ok=True)
    np.save(path("in.npy"), x)
    p = subprocess.run(["node", ORT_RUN, model, out, "--opt", opt, "x=" + path("in.npy")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return np.load(os.path.join(out, "y.npy"))


def cq_run(model, x, mode="int"):
    out = path("cq_" + os.path.basename(model) + "_" + mode)
    np.save(path("in.npy"), x)
    p = cquant("run", model, "-i", "x=" + path("in.npy"), "-o", out, "--exec", mode)
    assert p.returncode == 0, p.stderr
    return np.load(os.path.join(out, "y.npy"))


def export(m, x, name):
    f = path(name + ".onnx")
    torch.onnx.export(m, x, f, opset_version=13, input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    return f


def dynamic(model, name, *extra):
    out = path(name)
    p = cquant("ptq", model, "--mode", "dynamic", "-o", out, *extra)
    assert p.returncode == 0, p.stderr
    return out


def check_pattern(qfile, linears, per_tensor, qmax=127):
    """The quantize_dynamic node pattern, and the int8 weights against eq. 31 computed here (qmax 63:
    --reduce-range, eq. 11b)."""
    m = onnx.load(qfile)
    onnx.checker.check_model(m)
    g = m.graph
    init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    prod = {o: n for n in g.node for o in n.output}
    users = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
    mmi = [n for n in g.node if n.op_type == "MatMulInteger"]
    # every MatMul/Gemm with a constant weight rewritten (the attention products of two activations stay)
    ok = opset >= 11 and len(mmi) == len(linears) and not any(n.op_type in ("MatMul", "Gemm") and n.input[1] in init for n in g.node)
    found = 0
    for n in mmi:
        dq = prod.get(n.input[0])
        ok &= dq is not None and dq.op_type == "DynamicQuantizeLinear" and list(dq.output[::2]) == [n.input[0], n.input[2]]
        wq, wz = init[n.input[1]], init[n.input[3]]
        ok &= wq.dtype == np.int8 and wz.dtype == np.int8 and not wz.any() and wz.shape == (() if per_tensor else (wq.shape[1],))
        cast = users[n.output[0]][0]
        ok &= cast.op_type == "Cast" and cast.attribute[0].i == TensorProto.FLOAT
        mul = users[cast.output[0]][0]
        smul = prod[[i for i in mul.input if i != cast.output[0]][0]]
        ok &= mul.op_type == "Mul" and smul.op_type == "Mul" and smul.input[0] == dq.output[1]
        ws = init[smul.input[1]]
        # eq. 31 in NumPy: s = amax / 127 per output column (or tensor), q = clamp(rint(w / s), -127, 127)
        for lin in linears:
            w = lin.weight.detach().numpy().T.astype(np.float32)  # K x N, as MatMulInteger reads it
            if w.shape != wq.shape:
                continue
            amax = np.abs(w).max() if per_tensor else np.abs(w).max(axis=0)
            s = np.maximum(np.float32(amax) / np.float32(qmax), np.float32(2.0 ** -23)).astype(np.float32)
            if np.array_equal(ws, s) and np.array_equal(wq, np.clip(np.rint(w / s), -qmax, qmax).astype(np.int8)):
                found += 1
                break
    check(ok and found == len(mmi), f"{os.path.basename(qfile)}: opset {opset}, {len(mmi)} DynamicQuantizeLinear -> MatMulInteger -> Cast -> "
          f"Mul(x_scale * W_scale) chains, int8 weights {'per tensor' if per_tensor else 'per output column'} equal to eq. 31 "
          f"(-{qmax}..{qmax}) ({found} of {len(linears)})")


def torch_dynamic(m, x):
    """quantize_dynamic of the same module: default qconfig (per-tensor weights) and per-channel."""
    with torch.no_grad():
        a = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)(x).numpy()
        b = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig})(x).numpy()
    return a, b


# ---- an MLP of Linear layers: Gemm (2-D input) and MatMul + Add (3-D input) -----------------------
class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = torch.nn.Linear(32, 96), torch.nn.Linear(96, 64), torch.nn.Linear(64, 10)

    def forward(self, x):
        return self.l3(torch.relu(self.l2(torch.relu(self.l1(x)))))


mlp = MLP().eval()
for shape, name in [((256, 32), "mlp_gemm"), ((16, 16, 32), "mlp_matmul")]:
    x = torch.randn(*shape)
    f = export(mlp, x[:2], name)
    with torch.no_grad():
        ref = mlp(x).numpy()
    tq, tqc = torch_dynamic(mlp, x)
    for tag, extra in [("per channel", []), ("per tensor", ["--weight-granularity", "tensor"])]:
        q = dynamic(f, name + "_" + tag[4:] + ".onnx", *extra)
        check_pattern(q, [mlp.l1, mlp.l2, mlp.l3], tag == "per tensor")
        s, st, stc = sqnr(ref, cq_run(q, x.numpy())), sqnr(ref, tq), sqnr(ref, tqc)
        # the bound: 8-bit activations and weights through three layers of random weights give ~39 dB
        check(s > 35 and s >= max(st, stc), f"{name} {tag}: cquant's output SQNR {s:.2f} dB vs float (> 35); torch quantize_dynamic "
              f"{st:.2f} dB (per-tensor qconfig), {stc:.2f} dB (per-channel qconfig)")
        # ONNX Runtime runs the file cquant writes for it here: the 8-bit one, or 7-bit weights where its kernels saturate
        qr = dynamic(f, name + "_" + tag[4:] + "_rr.onnx", *extra, "--reduce-range")
        check_pattern(qr, [mlp.l1, mlp.l2, mlp.l3], tag == "per tensor", 63)
        qo = q if EXACT else qr
        y, y0 = ort(qo, x.numpy()), ort(qo, x.numpy(), "disabled")
        ci, cf = cq_run(qo, x.numpy()), cq_run(qo, x.numpy(), "float")
        check(np.array_equal(ci, y) and np.array_equal(cf, y) and np.array_equal(y0, y) and sqnr(ref, y) > (35 if EXACT else 29),
              f"{name} {tag}: cquant run --exec int / --exec float equal ONNX Runtime (fused and unfused) bit for bit{NOTE}, "
              f"ORT's SQNR {sqnr(ref, y):.2f} dB")

    if name == "mlp_matmul":  # int4 weights (-7..7 in int8): MSE ranges by default, as static PTQ
        xs = x.numpy()
        y4, y4m = (ort(dynamic(f, f"mlp_int4_{r}.onnx", "--weights", "int4", "--weight-range", r), xs) for r in ("mse", "minmax"))
        w4 = numpy_helper.to_array([t for t in onnx.load(path("mlp_int4_mse.onnx")).graph.initializer if t.data_type == TensorProto.INT8][0])
        check(np.abs(w4).max() <= 7 and sqnr(ref, y4) > 15 and sqnr(ref, y4) >= sqnr(ref, y4m) and np.array_equal(cq_run(path("mlp_int4_mse.onnx"), xs), y4),
              f"{name} int4 weights: values in -7..7, SQNR {sqnr(ref, y4):.2f} dB with MSE ranges (> 15), {sqnr(ref, y4m):.2f} dB min-max; cquant run equals ONNX Runtime")

# ---- a small pre-norm transformer encoder ----------------------------------------------------------
class Block(torch.nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
        self.h = h
        self.n1, self.n2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
        self.f1, self.f2 = torch.nn.Linear(d, ff), torch.nn.Linear(ff, d)

    def forward(self, x):
        b, t, d = x.shape
        y = self.n1(x)
        q, k, v = (p(y).reshape(b, t, self.h, d // self.h).transpose(1, 2) for p in (self.q, self.k, self.v))
        a = torch.softmax(q @ k.transpose(-1, -2) / (d // self.h) ** 0.5, dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        return x + self.f2(torch.nn.functional.gelu(self.f1(self.n2(x))))


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Linear(16, 64)
        self.blocks = torch.nn.Sequential(Block(64, 4, 128), Block(64, 4, 128))
        self.head = torch.nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.blocks(self.emb(x)).mean(1))


enc = Encoder().eval()
x = torch.randn(256, 12, 16)
f = export(enc, x[:2], "encoder")
with torch.no_grad():
    ref = enc(x).numpy()
tq, tqc = torch_dynamic(enc, x)
linears = [m for m in enc.modules() if isinstance(m, torch.nn.Linear)]
for tag, extra in [("per channel", []), ("per tensor", ["--weight-granularity", "tensor"])]:
    q = dynamic(f, "encoder_" + tag[4:] + ".onnx", *extra)
    check_pattern(q, linears, tag == "per tensor")
    ci8 = cq_run(q, x.numpy())
    s, st, stc = sqnr(ref, ci8), sqnr(ref, tq), sqnr(ref, tqc)
    # measured: ~37 dB per channel, ~36.5 dB per tensor; torch ~32 dB
    check(s > 33 and s >= max(st, stc), f"encoder {tag}: cquant's output SQNR {s:.3f} dB vs float (> 33); torch quantize_dynamic "
          f"{st:.2f} dB (per-tensor qconfig), {stc:.2f} dB (per-channel qconfig)")
    qo = q if EXACT else dynamic(f, "encoder_" + tag[4:] + "_rr.onnx", *extra, *REDUCE)  # the file ORT runs (ort_cpu.py)
    y = ort(qo, x.numpy())
    ci, cf = cq_run(qo, x.numpy()), cq_run(qo, x.numpy(), "float")
    agree = (ci.argmax(1) == y.argmax(1)).mean()
    check(sqnr(y, ci) > 40 and agree == 1.0 and np.array_equal(ci, cf) and sqnr(ref, y) > (33 if EXACT else 29),
          f"encoder {tag}: cquant run vs ONNX Runtime {sqnr(y, ci):.1f} dB (> 40), same argmax on {100 * agree:.1f}% of 256 samples; "
          f"--exec float equals --exec int; ORT's SQNR {sqnr(ref, y):.2f} dB{NOTE}")


# ---- Gemm forms: alpha, beta, transB = 0, C an activation -----------------------------------------
def gemm_model(alpha, beta, trans_b, c_const):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((24, 16) if trans_b else (16, 24)).astype(np.float32)
    c = rng.standard_normal(24).astype(np.float32)
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])]
    inits = [numpy_helper.from_array(w, "w")]
    if c_const:
        inits.append(numpy_helper.from_array(c, "c"))
    else:
        inputs.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, ["n", 24]))
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["g"], alpha=alpha, beta=beta, transB=trans_b, name="gemm"),
             helper.make_node("Relu", ["g"], ["y"])]
    g = helper.make_graph(nodes, "gemm", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 24])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


for alpha, beta, tb in [(0.5, 2.0, 0), (1.0, 1.0, 1), (1.5, 0.0, 1)]:
    f = path(f"gemm_{tb}.onnx")
    onnx.save(gemm_model(alpha, beta, tb, True), f)
    q = dynamic(f, f"gemm_{tb}_dyn.onnx")
    xg = np.random.default_rng(1).standard_normal((64, 16)).astype(np.float32)
    ref = ort(f, xg)
    qo = q if EXACT else dynamic(f, f"gemm_{tb}_dyn_rr.onnx", *REDUCE)
    y = ort(qo, xg)
    check(sqnr(ref, cq_run(q, xg)) > 35 and np.array_equal(cq_run(qo, xg), y),
          f"Gemm alpha {alpha} beta {beta} transB {tb}: SQNR {sqnr(ref, cq_run(q, xg)):.1f} dB (> 35); cquant run equals ONNX Runtime{NOTE}")
# C an activation: added after the scales (beta 1); with beta != 1 the Gemm stays float
for beta, rewritten in [(1.0, True), (0.5, False)]:
    f = path("gemm_act_c.onnx")
    onnx.save(gemm_model(1.0, beta, 1, False), f)
    p = cquant("ptq", f, "--mode", "dynamic", "-o", path("gemm_act_c_dyn.onnx"))
    check((p.returncode == 0) == rewritten, f"Gemm with an activation C, beta {beta}: {'rewritten' if rewritten else 'kept in float (exit 1: nothing else to quantize)'}")


# ---- bad input -------------------------------------------------------------------------------------
def refused(args, out, what):
    if os.path.exists(out):
        os.remove(out)
    p = cquant(*args)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 1 and len(lines) == 1 and not os.path.exists(out) and not p.stdout.count("wrote"), f"{what}: exit {p.returncode}, "
          f"{len(lines)} line ({lines[0] if lines else ''}), nothing written")


conv = helper.make_model(helper.make_graph(
    [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"), helper.make_node("Relu", ["c"], ["y"])], "conv",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
    [numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")]), opset_imports=[helper.make_opsetid("", 13)])
onnx.save(conv, path("conv.onnx"))
out = path("bad.onnx")
refused(["ptq", path("conv.onnx"), "--mode", "dynamic", "-o", out], out, "a model with no MatMul/Gemm weight")
np.save(path("calib.npy"), np.zeros((4, 32), np.float32))
refused(["ptq", path("mlp_gemm.onnx"), "--mode", "dynamic", "--calib", path("calib.npy"), "-o", out], out, "--calib with --mode dynamic")
refused(["ptq", path("mlp_gemm.onnx"), "--mode", "dynamic", "--exclude", "nosuchnode", "-o", out], out, "--exclude naming no MatMul/Gemm")
refused(["ptq", path("mlp_gemm.onnx"), "--mode", "dynamic", "--format", "qop", "-o", out], out, "--format qop with --mode dynamic")

print(f"\n{'FAILED' if failed else 'passed'}: {failed} failure(s); files in {TMP}")
sys.exit(1 if failed else 0)
