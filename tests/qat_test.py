#!/usr/bin/python3
"""`cquant qat` end to end on the shipped models (short runs) and its bad-input paths.

    /usr/bin/python3 tests/qat_test.py path/to/cquant

- fmnist_cnn w8a8 (STE), fmnist_resnet w4a8 (LSQ, BatchNorm folded, frozen after epoch 0) and
  fmnist_cnn w4a4 (UINT4 activations, opset 21): the QDQ file passes onnx.checker (when this onnx
  knows the IR version), has no BatchNormalization, holds every Conv/Gemm bias in int32 (eq. 28),
  and ONNX Runtime and cquant's runtimes (float and integer for w4a4, integer otherwise) predict the
  same class as the fake-quant forward of the trained model on >= 99.5% of 2,000 test images.
- --weight-clip max|mse|auto: the exported per-channel scales of --ptq-only files are max|w_c| / Q,
  or a smaller fraction of it where MSE clipping applies (auto: below 4 bits).
- bad input: an operator the trainer cannot differentiate (one line naming node and op), data
  without labels, labels out of range, a learning rate that makes the loss NaN, Ctrl-C: an error
  line, a non-zero exit and no output file (nor a temporary one).
ONNX Runtime parts skip themselves when onnxruntime-node is missing.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
from ort_cpu import QAT_W8  # noqa: E402  (tests/: ORT's int8 kernels on this CPU)
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from made_files import weight_clip_ratios  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CQ = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/cquant")
HAVE_ORT = os.path.isdir(os.path.join(ROOT, "tools/ort/node_modules/onnxruntime-node")) and shutil.which("node")
N_EVAL = "fashion-mnist:test:2000"

# ONNX Runtime's predictions; level "basic" keeps Q/DQ nodes as written (its QDQ fusion into
# QLinearConv does not take 4-bit types in 1.20)
ORT_JS = r"""
const fs = require('fs'), zlib = require('zlib'), ort = require('onnxruntime-node');
const [model, n, level, outp, mean, std] = process.argv.slice(1);
function idx(p) { let b = zlib.gunzipSync(fs.readFileSync(p)); const nd = b[3]; const d = [];
  for (let i = 0; i < nd; i++) d.push(b.readUInt32BE(4 + 4 * i)); return { d, x: b.subarray(4 + 4 * nd) }; }
(async () => {
  const im = idx('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz');
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, graphOptimizationLevel: level });
  const N = Number(n), per = 784, pred = new Uint8Array(N);
  for (let a = 0; a < N; a += 100) {
    const b = Math.min(100, N - a), x = new Float32Array(b * per);
    for (let i = 0; i < b * per; i++) x[i] = (im.x[a * per + i] / 255 - Number(mean)) / Number(std);
    const y = (await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [b, 1, 28, 28]) }))[s.outputNames[0]].data;
    for (let i = 0; i < b; i++) { let best = 0; for (let c = 1; c < 10; c++) if (y[i * 10 + c] > y[i * 10 + best]) best = c; pred[a + i] = best; }
  }
  fs.writeFileSync(outp, pred);
})().catch((e) => { console.error('ort: ' + e.message); process.exit(1); });
"""

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
    print(("ok   " if cond else "FAIL ") + what)
    sys.stdout.flush()


def cq(*args, **kw):
    return subprocess.run([CQ, *args], capture_output=True, text=True, **kw)


def agreement(a, b):
    x, y = np.fromfile(a, np.uint8), np.fromfile(b, np.uint8)
    return float((x == y).mean()) if len(x) == len(y) and len(x) else 0.0


def ort_predict(model, out, level):
    env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "tools/ort/node_modules"))
    return subprocess.run(["node", "-e", ORT_JS, model, "2000", level, out, "0.286", "0.353"], capture_output=True, text=True, env=env)


def train_case(tmp, name, model, args, act4=False):
    out = os.path.join(tmp, name + ".onnx")
    fq = os.path.join(tmp, name + "_fq.bin")
    r = cq("qat", os.path.join(ROOT, "models", model), "--data", "fashion-mnist:train:1920", "--eval", N_EVAL, "-o", out, "--predictions", fq,
           "--calib-samples", "500", "--threads", "2", *args)
    check(r.returncode == 0 and os.path.exists(out), f"{name}: cquant qat {' '.join(args)} ({r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()})")
    if r.returncode:
        return
    m = onnx.load(out)
    ops = [n.op_type for n in m.graph.node]
    check("BatchNormalization" not in ops and ops.count("QuantizeLinear") > 0, f"{name}: QDQ graph without BatchNormalization ({ops.count('QuantizeLinear')} QuantizeLinear)")
    try:
        onnx.checker.check_model(m)
        check(True, f"{name}: onnx.checker")
    except onnx.checker.ValidationError as e:
        print(f"     ({name}: onnx.checker {onnx.__version__} skipped: {str(e).splitlines()[0]})")
    if act4:
        zps = [i for i in m.graph.initializer if i.name.endswith("_zero_point") and i.data_type == 21]
        opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
        check(len(zps) > 0 and opset >= 21, f"{name}: UINT4 activation zero-points ({len(zps)}), opset {opset}")
    if HAVE_ORT:
        op = os.path.join(tmp, name + "_ort.bin")
        r = ort_predict(out, op, "basic" if act4 else "all")
        check(r.returncode == 0, f"{name}: ONNX Runtime runs it {r.stderr.strip()}")
        if r.returncode == 0:
            a = agreement(fq, op)
            check(a >= 0.995, f"{name}: ONNX Runtime and the fake-quant forward agree on {100 * a:.2f}% of classes")
    else:
        print("     (ONNX Runtime parts skipped: tools/ort/node_modules missing)")
    # the biases in int32 at s_x s_w (eq. 28), as the fake-quant forward simulated them, at either
    # activation width: every Conv/Gemm bias input is a DequantizeLinear of an INT32 initializer
    inits = {i.name: i for i in m.graph.initializer}
    dq_in = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "DequantizeLinear"}
    biases = [n.input[2] for n in m.graph.node if n.op_type in ("Conv", "Gemm") and len(n.input) > 2 and n.input[2]]
    int32 = [b for b in biases if b in dq_in and dq_in[b] in inits and inits[dq_in[b]].data_type == TensorProto.INT32]
    check(len(biases) > 0 and len(int32) == len(biases), f"{name}: int32 biases ({len(int32)} of {len(biases)})")
    # cquant's runtimes (4-bit activations: QuantizeLinear/DequantizeLinear-21 with UINT4)
    for ex in ("float", "int") if act4 else ("int",):
        ip = os.path.join(tmp, f"{name}_{ex}.bin")
        r = cq("eval", out, "--data", N_EVAL, "--exec", ex, "--predictions", ip)
        check(r.returncode == 0, f"{name}: cquant's {ex} runtime runs it {r.stderr.strip()}")
        if r.returncode == 0:
            a = agreement(fq, ip)
            check(a >= 0.995, f"{name}: cquant's {ex} runtime and the fake-quant forward agree on {100 * a:.2f}% of classes")


def clip_ratios(tmp, bits, clip):
    """the exported r_c = s_c Q / max|w_c| of fmnist_cnn's four layers (no BatchNorm, no training)"""
    out = os.path.join(tmp, f"clip_{bits}_{clip}.onnx")
    args = ["--weight-clip", clip] if clip else []
    r = cq("qat", os.path.join(ROOT, "models/fmnist_cnn.onnx"), "--data", "fashion-mnist:train:200", "--eval", "fashion-mnist:test:100", "--ptq-only",
           "--weight-bits", str(bits), "--act", "float", "--calib-samples", "100", "-o", out, *args)
    if r.returncode:
        check(False, f"--ptq-only --weight-bits {bits} {' '.join(args)}: {r.stderr.strip()}")
        return None
    ratios = weight_clip_ratios(os.path.join(ROOT, "models/fmnist_cnn.onnx"), out, bits)
    if ratios is None:
        check(False, f"{out}: a Conv/Gemm without a DequantizeLinear scale initializer on its weights")
    return ratios


def weight_clip(tmp):
    # docs/qat.md section 2: max|w_c| (r = 1), or the MSE-best fraction (0.30 <= r <= 1, below 1 on
    # some channel at these widths); auto: MSE below 4 bits, max at 4 and above; --ptq-only: MSE
    for bits, clip, clipped in ((4, "max", False), (2, "max", False), (4, "mse", True), (4, "auto", False), (3, "auto", True), (4, None, True)):
        r = clip_ratios(tmp, bits, clip)
        if r is None:
            continue
        ok = np.all(r > 0.3 - 1e-6) and np.all(r < 1 + 1e-6) and (np.any(r < 0.98) if clipped else np.all(np.abs(r - 1) < 1e-6))
        check(ok, f"--weight-bits {bits} --weight-clip {clip or '(default, --ptq-only)'}: r_c in [{r.min():.3f}, {r.max():.3f}]")
    r = cq("qat", os.path.join(ROOT, "models/fmnist_cnn.onnx"), "--data", "fashion-mnist:train:200", "-o", os.path.join(tmp, "c.onnx"), "--weight-clip", "min")
    check(r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and "--weight-clip" in r.stderr, f"--weight-clip min: {r.stderr.strip()}")


def no_output(tmp, out):
    return not os.path.exists(out) and not [f for f in os.listdir(tmp) if f.startswith(os.path.basename(out))]


def bad_input(tmp):
    # an operator the trainer cannot differentiate
    W = numpy_helper.from_array(np.ones((10, 784), np.float32), "W")
    g = helper.make_graph([helper.make_node("Flatten", ["x"], ["f"], name="flat"), helper.make_node("Gemm", ["f", "W"], ["h"], name="fc", transB=1),
                           helper.make_node("Floor", ["h"], ["y"], name="floor_node")], "bad",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], [W])
    bad = os.path.join(tmp, "floor.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), bad)
    out = os.path.join(tmp, "floor_q.onnx")
    r = cq("qat", bad, "--data", "fashion-mnist:train:200", "-o", out)
    lines = r.stderr.strip().splitlines()
    check(r.returncode != 0 and len(lines) == 1 and "floor_node" in lines[0] and "Floor" in lines[0] and no_output(tmp, out),
          f"unsupported operator: {r.stderr.strip()}")
    # data without labels, labels out of range
    x = np.random.default_rng(0).standard_normal((64, 1, 28, 28)).astype(np.float32)
    xp, yp = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(xp, x)
    model = os.path.join(ROOT, "models/fmnist_cnn.onnx")
    out = os.path.join(tmp, "nolabel.onnx")
    r = cq("qat", model, "--data", xp, "-o", out)
    check(r.returncode != 0 and "no labels" in r.stderr and no_output(tmp, out), f"data without labels: {r.stderr.strip()}")
    np.save(yp, np.full(64, 10, np.int64))
    r = cq("qat", model, "--data", xp, "--labels", yp, "-o", out)
    check(r.returncode != 0 and "label 10" in r.stderr and no_output(tmp, out), f"labels out of range: {r.stderr.strip()}")
    # a learning rate that makes the loss NaN
    out = os.path.join(tmp, "nan.onnx")
    r = cq("qat", model, "--data", "fashion-mnist:train:1280", "-o", out, "--optimizer", "sgd", "--lr", "1e6", "--calib-samples", "100")
    check(r.returncode != 0 and ("nan" in r.stderr.lower() or "inf" in r.stderr.lower()) and no_output(tmp, out), f"NaN loss: {r.stderr.strip()}")
    # Ctrl-C
    out = os.path.join(tmp, "int.onnx")
    p = subprocess.Popen([CQ, "qat", model, "--data", "fashion-mnist:train:20000", "-o", out, "--calib-samples", "100"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    check(p.returncode != 0 and "interrupted" in err and no_output(tmp, out), f"Ctrl-C: {err.strip().splitlines()[-1] if err.strip() else ''}")


def labels_files(tmp):
    """--data X.npy --labels Y.npy and --eval X.npy --eval-labels Y.npy (int32 labels here) train and
    evaluate exactly as the same samples from fashion-mnist specs: the same loss and top-1s."""
    import gzip
    model = os.path.join(ROOT, "models/fmnist_cnn.onnx")
    meta = {p.key: float(p.value) for p in onnx.load(model).metadata_props if p.key in ("cquant.mean", "cquant.std")}
    mean, std = np.float32(meta.get("cquant.mean", 0.0)), np.float32(meta.get("cquant.std", 1.0))

    def idx(name, n):
        with gzip.open(f"/usr/share/datasets/fashion-mnist/{name}") as f:
            b = f.read()
        nd = b[3]
        dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
        return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)[:n]

    files = {}
    for split, pre, n in (("train", "train", 640), ("test", "t10k", 300)):
        x = ((idx(f"{pre}-images-idx3-ubyte.gz", n).astype(np.float32) / np.float32(255) - mean) / std).reshape(n, 1, 28, 28)
        files[split] = (os.path.join(tmp, f"fm_{split}_x.npy"), os.path.join(tmp, f"fm_{split}_y.npy"))
        np.save(files[split][0], x)
        np.save(files[split][1], idx(f"{pre}-labels-idx1-ubyte.gz", n).astype(np.int32))
    common = ["--max-steps", "8", "--batch", "64", "--calib-samples", "128", "--lr", "1e-4", "--threads", "1"]
    a = cq("qat", model, "--data", "fashion-mnist:train:640", "--eval", "fashion-mnist:test:300", "-o", os.path.join(tmp, "lab_a.onnx"), *common)
    b = cq("qat", model, "--data", files["train"][0], "--labels", files["train"][1], "--eval", files["test"][0], "--eval-labels", files["test"][1],
           "-o", os.path.join(tmp, "lab_b.onnx"), *common)
    figures = lambda r: (re.findall(r"loss [\d.]+, train top-1 [\d.]+%", r.stdout), re.findall(r"fake-quant top-1 on \S+: ([\d.]+)%", r.stdout))
    fa, fb = figures(a), figures(b)
    check(a.returncode == 0 and b.returncode == 0 and fa[0] and fa[1] and fa == fb,
          f"--labels/--eval-labels files train and evaluate as the fashion-mnist specs: {fa} / {fb} {b.stderr.strip()[-200:]}")
    r = cq("qat", model, "--data", files["train"][0], "--labels", files["test"][1], "-o", os.path.join(tmp, "lab_c.onnx"), *common)
    check(r.returncode == 1 and "300 labels for the 640 samples" in r.stderr and not os.path.exists(os.path.join(tmp, "lab_c.onnx")),
          f"a labels file of another length: {r.stderr.strip()}")


def main():
    if not os.path.exists(CQ):
        print(f"cquant binary {CQ} not found")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        # 7-bit weights where ONNX Runtime's int8 kernels saturate (tests/ort_cpu.py): the file it must run exactly
        train_case(tmp, f"cnn_w{QAT_W8}a8", "fmnist_cnn.onnx", ["--weight-bits", QAT_W8, "--max-steps", "30", "--lr", "1e-4"])
        train_case(tmp, "resnet_w4a8_lsq", "fmnist_resnet.onnx", ["--weights", "int4", "--lsq", "--freeze-bn-after", "0", "--max-steps", "20", "--lr", "1e-4"])
        train_case(tmp, "cnn_w4a4", "fmnist_cnn.onnx", ["--weights", "int4", "--act", "int4", "--max-steps", "30", "--lr", "1e-4"], act4=True)
        weight_clip(tmp)
        labels_files(tmp)
        bad_input(tmp)
    print(f"{'FAIL' if failures else 'ok'}: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
