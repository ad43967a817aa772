#!/usr/bin/python3
"""Issue 11's Proof table: PTQ of the models of models/train_issue11.py by cquant and by its peers,
everything measured in one run on the same calibration and test data.

For each model:
  fp32           cquant's float executor and ONNX Runtime on the float file; PyTorch on the same weights
  int8 static    cquant ptq, int8 weights per channel and int8 activations; the activation method is
                 the one with the best metric on a validation set (--methods; the test set is not used
                 to choose), metrics within chance of the best (McNemar p >= 0.05; the LM: paired t)
                 going to the higher output SQNR against fp32, as `cquant ptq --act-method M,M --eval`
                 chooses (docs/calibration.md eq. M1-M2)
  the other settings of the issue, each run only when `cquant ptq --help` shows its option (else
  "n/a"): int8 dynamic (--mode dynamic, no calibration), int8 SmoothQuant (--smooth ALPHA with the
  int8 static row's method; ALPHA the best of --smooth-alphas, default 0.25,0.5,0.75, on the
  validation set, as the method is chosen; the alpha is in the row's label), int4 blocked
  weights with int8 activations (--weights int4 --weight-granularity group:32 / group:128) and
  weight-only (group:128 --act none), fp8 (--weights fp8e4m3 --act fp8e4m3). A setting whose ptq run
  fails prints "failed: " and its error line. ONNX Runtime runs the fp8 files at --opt basic (its
  level-2+ rewrites refuse or miscompute float8 QDQ; the note under the table says so).
  For every cquant file: the metric of cquant's integer runtime (cquant run --exec int), of ONNX
  Runtime (tools/ort/run.js) on the same file, and the share of predictions on which the two agree
  (argmax per sample; per position for the language model).
  peers          PyTorch 1.13 FX post-training static quantization (prepare_fx/convert_fx, the onednn
                 qconfig mapping; Embedding left float: its only int8 form in 1.13 is weight-only; the
                 attention mask and Softmax left float, as cquant leaves them) and
                 torch.ao.quantization.quantize_dynamic (nn.Linear, int8; onednn: Debian's torch has no fbgemm) of the same network
                 (the .pt state_dict saved with the ONNX file) on the same calibration data.
Beside each peer's figure: McNemar's exact test of cquant's file against it on the same test
samples (the LM: the paired t of the windows' cross-entropies), eq. M2.
Metrics (computed here, in Python, from each runtime's outputs): top-1 for the classifiers,
perplexity = exp(mean cross-entropy over every predicted character of the test windows) for the LM.
The BERT-style model has two inputs; `cquant ptq` is tried with one --calib NAME=FILE per input and
the row says "blocked: multi-input PTQ" with the error when it refuses.

usage: /usr/bin/python3 bench/ptq_models_bench.py [--cquant build/cquant] [--data DIR] [--only M,M]
         [--methods all|M,M] [--n-test N] [--n-val N] [--no-settings] [--settings LABEL,..]
         [--smooth-alphas A,A] [--md OUT.md]
DIR (default: issue11_data next to the cquant binary) is written by models/train_issue11.py --data-only
when missing. Every runtime runs on one thread (OMP_NUM_THREADS=1, ORT --threads 1).
"""
import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))
import train_issue11 as ti  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests"))
from ort_cpu import EXACT as ORT_INT8_EXACT, REDUCE as ORT_REDUCE  # noqa: E402  (whether ORT's int8 kernels compute exactly here)
sys.path.insert(0, os.path.join(ROOT, "bench"))
import paired_stats as ps  # noqa: E402

METHODS = ["minmax", "ema", "percentile", "entropy", "mse"]
# name, ONNX file, architecture (train_issue11.MODELS), kind
MODELS = [("vit_op17", "fmnist_vit_op17.onnx", "fmnist_vit", "img"), ("vit_op13", "fmnist_vit_op13.onnx", "fmnist_vit", "img"),
          ("mbv3_op17", "fmnist_mbv3_op17.onnx", "fmnist_mbv3", "img"), ("mbv3_op13", "fmnist_mbv3_op13.onnx", "fmnist_mbv3", "img"),
          ("char_lm", "pystdlib_lm.onnx", "pystdlib_lm", "lm"), ("bert", "codelang_bert.onnx", "codelang_bert", "tok")]
CHUNK = 500  # samples per runtime call, the same for every runtime and peer (dynamic quantization
# takes its activation ranges per call, so the batches must be equal); bounds the runtimes' memory


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sh(cmd, env=None):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return r.returncode, r.stdout, r.stderr, time.perf_counter() - t0


def first_error(err, out=""):
    lines = [ln for ln in (err + "\n" + out).splitlines() if ln.strip()]
    return lines[-1][:160] if lines else "no message"


class Data:
    """The inputs (one dict per chunk: input name -> .npy path), labels / target windows of one set."""

    def __init__(self, tmp, tag, arrays, names, y):
        self.chunks, self.y, self.n = [], y, len(arrays[0])
        for c in range(0, self.n, CHUNK):
            d = {}
            for name, a in zip(names, arrays):
                p = os.path.join(tmp, f"{tag}_{name}_{c}.npy")
                np.save(p, np.ascontiguousarray(a[c:c + CHUNK]))
                d[name] = p
            self.chunks.append(d)
        self.arrays = arrays


def metric(kind, logits, y):
    if kind == "lm":
        lg = torch.from_numpy(logits.astype(np.float64)).reshape(-1, logits.shape[-1])
        return math.exp(F.cross_entropy(lg, torch.from_numpy(y[:, 1:]).reshape(-1)).item())
    return 100.0 * float((logits.argmax(-1) == y).mean())


def per_sample(kind, logits, y):
    """What the metric averages, per test sample: 1/0 for a correct top-1; the mean cross-entropy of
    each window for the LM."""
    if kind == "lm":
        lg = torch.from_numpy(logits.astype(np.float64))
        return F.cross_entropy(lg.permute(0, 2, 1), torch.from_numpy(y[:, 1:]), reduction="none").mean(1).numpy()
    return (logits.argmax(-1) == y).astype(np.float64)


def paired(kind, y, a, b):
    """Whether a (cquant) and b (a peer), run on the same test samples, differ by more than chance
    (bench/paired_stats.py, docs/calibration.md eq. M2): McNemar's exact test for the classifiers,
    the paired t statistic of the windows' cross-entropies for the LM."""
    ea, eb = per_sample(kind, a, y), per_sample(kind, b, y)
    if kind == "lm":
        t, p = ps.paired_t(ea, eb)
        return f"paired t over {len(ea)} windows {t:+.2f} (> 0: cquant's loss lower), p = {p:.2f}"
    return ps.phrase(*ps.mcnemar(ea == 1, eb == 1))


def choose(kind, cands, choice):
    """The method cquant ptq --act-method M,M --eval chooses (docs/calibration.md eq. M1): the leader
    is the best validation metric (the earlier of equals); the methods within chance of it (McNemar
    p >= 0.05 on the same samples, eq. M2) go to the higher output SQNR against fp32 (the models here
    have one output, the logits, as cquant's SQNR sums over every float output), then the better
    metric, then the earlier. The LM, whose metric (perplexity) cquant ptq does not compute, takes
    the same rule with the paired t over windows in McNemar's place. cands: (method, metric, SQNR,
    file, ptq seconds, per-sample results); choice gets one phrase per method. Returns (method, file,
    seconds)."""
    lead = 0
    for k, c in enumerate(cands):
        if better(kind, c[1], cands[lead][1]):
            lead = k
    close = []
    for k, (m, v, sq, f, dt, e) in enumerate(cands):
        if kind == "lm":
            p = ps.paired_t(e, cands[lead][5])[1] if k != lead else 1.0
        else:
            p = ps.mcnemar(e == 1, cands[lead][5] == 1)[2]
        if p >= 0.05:
            close.append(k)
        choice.append(f"{m} {fmt(kind, v)} ({sq:.1f} dB, p {p:.2f} against {cands[lead][0]})")
    sign = -1 if kind == "lm" else 1  # perplexity: lower is better
    best = max(close, key=lambda k: (cands[k][2], sign * cands[k][1], -k))
    return cands[best][0], cands[best][3], cands[best][4]


def better(kind, a, b):
    return a < b if kind == "lm" else a > b


def fmt(kind, v):
    if isinstance(v, str):
        return v
    return f"{v:.3f}" if kind == "lm" else f"{v:.2f}%"


class Bench:
    def __init__(self, a):
        self.cq, self.a = a.cquant, a
        self.env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        self.tmp = tempfile.mkdtemp(prefix="cquant_i11.")
        rc, out, err, _ = sh([self.cq, "ptq", "--help"])
        self.help = out + err
        self.timing, self.notes, self.outs = [], set(), {}

    # --------------------------------------------------------------------------- runtimes over a set
    def run_cquant(self, model, data, exec_):
        outs, t = [], 0.0
        for k, ch in enumerate(data.chunks):
            od = os.path.join(self.tmp, "cq_out")
            os.makedirs(od, exist_ok=True)
            cmd = [self.cq, "run", model, "--output-dir", od, "--exec", exec_]
            for name, p in ch.items():
                cmd += ["--input", f"{name}={p}"]
            rc, out, err, dt = sh(cmd, self.env)
            if rc:
                raise RuntimeError(f"cquant run: {first_error(err)}")
            t += dt
            outs.append(np.load(os.path.join(od, "logits.npy")))
        return np.concatenate(outs), t

    def run_ort(self, model, data, opt="all"):
        outs, t = [], 0.0
        for ch in data.chunks:
            od = os.path.join(self.tmp, "ort_out")
            os.makedirs(od, exist_ok=True)
            cmd = ["node", os.path.join(ROOT, "tools/ort/run.js"), model, od, "--threads", "1", "--opt", opt] + [f"{n}={p}" for n, p in ch.items()]
            rc, out, err, dt = sh(cmd, self.env)
            if rc:
                raise RuntimeError(f"ORT: {first_error(err)}")
            t += dt
            outs.append(np.load(os.path.join(od, "logits.npy")))
        return np.concatenate(outs), t

    # ------------------------------------------------------------------------------------ the model
    def data_for(self, kind, split):
        d = self.a.data
        n = self.a.n_test if split == "test" else self.a.n_val
        if kind == "img":
            x, y = np.load(f"{d}/fmnist_{split}_x.npy")[:n], np.load(f"{d}/fmnist_{split}_y.npy")[:n]
            return Data(self.tmp, f"img_{split}", [x], ["input"], y)
        if kind == "lm":
            w = np.load(f"{d}/lm_{split}.npy")[:n]
            return Data(self.tmp, f"lm_{split}", [np.ascontiguousarray(w[:, :-1])], ["ids"], w)
        ids, mask, y = (np.load(f"{d}/bert_{split}_{s}.npy")[:n] for s in ("ids", "mask", "y"))
        return Data(self.tmp, f"tok_{split}", [ids, mask], ["input_ids", "attention_mask"], y)

    def calib_args(self, kind):
        d = self.a.data
        if kind == "img":
            return ["--calib", "fashion-mnist:train:2000"]
        if kind == "lm":
            return ["--calib", f"{d}/lm_calib.npy"]
        return ["--calib", f"input_ids={d}/bert_calib_ids.npy", "--calib", f"attention_mask={d}/bert_calib_mask.npy"]

    def ptq(self, model, kind, out, extra):
        calib = [] if "dynamic" in extra else self.calib_args(kind)  # dynamic mode takes no --calib
        rc, o, err, dt = sh([self.cq, "ptq", model, *calib, "-o", out, *extra], self.env)
        if rc:
            return None, first_error(err, o), dt
        return out, None, dt

    def settings(self, method):
        """(label, extra ptq options or None when the option is missing) for every setting of the table."""
        h = self.help
        base = ["--act-method", method]
        grp = "group:" in h
        # dynamic files run MatMulInteger, ORT's int8 kernel at any level: 7-bit weights where it saturates on 8
        dyn = "int8 dynamic" + ("" if ORT_INT8_EXACT else " (7-bit weights, --reduce-range: no VNNI)")
        return [(dyn, ["--mode", "dynamic", *ORT_REDUCE] if re.search(r"--mode\b.*dynamic", h) else None),
                ("int8 SmoothQuant", "smooth" if "--smooth" in h else None),
                ("int4 G=32 w, int8 act", base + ["--weights", "int4", "--weight-granularity", "group:32"] if grp else None),
                ("int4 G=128 w, int8 act", base + ["--weights", "int4", "--weight-granularity", "group:128"] if grp else None),
                ("int4 G=128 w, float act", ["--weights", "int4", "--weight-granularity", "group:128", "--act", "none"]
                 if grp and re.search(r"--act\b[^\n]*none", h) else None),
                ("fp8 e4m3 w and act", base + ["--weights", "fp8e4m3", "--act", "fp8e4m3"] if "fp8e4m3" in h else None)]

    def torch_peers(self, arch, kind, test):
        net = ti.MODELS[arch]()
        net.load_state_dict(torch.load(os.path.join(self.a.models, arch + ".pt")))
        net.eval()
        d = self.a.data
        if kind == "img":
            cal = [torch.from_numpy(np.load(f"{d}/fmnist_calib_x.npy"))]
        elif kind == "lm":
            cal = [torch.from_numpy(np.load(f"{d}/lm_calib.npy"))]
        else:
            cal = [torch.from_numpy(np.load(f"{d}/bert_calib_{s}.npy")) for s in ("ids", "mask")]
        xs = [torch.from_numpy(a) for a in test.arrays]

        def run(m):
            with torch.no_grad():
                return np.concatenate([m(*[x[i:i + CHUNK] for x in xs]).numpy() for i in range(0, test.n, CHUNK)])

        res = {"fp32": metric(kind, run(net), test.y), "fx_out": None, "dyn_out": None}
        from torch.ao.quantization import quantize_dynamic
        from torch.ao.quantization.quantize_fx import convert_fx
        try:
            prep = fx_prepared(net, cal)
            t0 = time.perf_counter()
            res["fx_out"] = run(convert_fx(prep))
            res["fx"] = metric(kind, res["fx_out"], test.y)
            res["fx_s"] = time.perf_counter() - t0
        except Exception as e:  # noqa: BLE001  (the table says why)
            res["fx"] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:100]}"
        net2 = ti.MODELS[arch]()
        net2.load_state_dict(torch.load(os.path.join(self.a.models, arch + ".pt")))
        net2.eval()
        try:
            res["dyn_out"] = run(quantize_dynamic(net2, {nn.Linear}, dtype=torch.qint8))
            res["dyn"] = metric(kind, res["dyn_out"], test.y)
        except Exception as e:  # noqa: BLE001
            res["dyn"] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:100]}"
        return res

    def one(self, name, fn, arch, kind):
        model = os.path.join(self.a.models, fn)
        log(f"== {name}")
        val, test = self.data_for(kind, "val"), self.data_for(kind, "test")
        rows = []
        self.outs = {}
        cq32, t_cq32 = self.run_cquant(model, test, "float")
        ort32, t_ort32 = self.run_ort(model, test)
        peers = self.torch_peers(arch, kind, test)
        rows.append(("fp32", metric(kind, cq32, test.y), metric(kind, ort32, test.y), agree(cq32, ort32), f"PyTorch {fmt(kind, peers['fp32'])}"))
        self.timing.append((name, "fp32", "-", t_cq32, t_ort32))
        # int8 static: every method on the validation set, the best on the test set
        methods = METHODS if self.a.methods == "all" else self.a.methods.split(",")
        why, choice, cands = None, [], []
        val32 = self.run_cquant(model, val, "float")[0]
        for m in methods:
            out = os.path.join(self.tmp, f"{name}_{m}.onnx")
            f, err, dt = self.ptq(model, kind, out, ["--act-method", m])
            if not f:
                why = err
                break
            o = self.run_cquant(f, val, "int")[0]
            v, sq = metric(kind, o, val.y), sqnr(val32, o)
            cands.append((m, v, sq, f, dt, per_sample(kind, o, val.y)))
            log(f"   {m}: validation {fmt(kind, v)}, {sq:.1f} dB against fp32 (ptq {dt:.1f} s)")
        best, best_file, best_dt = choose(kind, cands, choice) if cands else (None, None, None)
        blocked = ("blocked: multi-input PTQ" if kind == "tok" else "failed") + f" ({why})"
        if best is None:
            rows.append(("int8 static", blocked, "-", "-", ""))
        else:
            rows.append(self.measure(name, f"int8 static ({best})", best_file, best_dt, test, kind))
        # the other settings; without a static file (multi-input) those that need no calibration still run
        sel = self.a.settings.split(",") if self.a.settings else None
        for label, extra in ([] if self.a.no_settings else self.settings(best or "minmax")):
            if sel and not any(label.startswith(x) for x in sel):
                continue
            if extra is None:
                rows.append((label, "n/a", "-", "-", ""))
                continue
            if extra == "smooth":  # alpha chosen on the validation set, as the method
                extra, f, err, dt, sv = self.choose_alpha(name, model, kind, best or "minmax", val, choice)
                label = f"int8 SmoothQuant (alpha {extra[-1]})" if f else label
            else:
                out = os.path.join(self.tmp, f"{name}_{label.split()[0]}_{len(rows)}.onnx")
                f, err, dt = self.ptq(model, kind, out, extra)
            rows.append(self.measure(name, label, f, dt, test, kind) if f else
                        (label, blocked if best is None else f"failed: {err}", "-", "-", ""))
        for label, key, mine in (("PyTorch FX static (onednn)", "fx", "int8 static"), ("PyTorch quantize_dynamic", "dyn", "int8 dynamic")):
            vs = ""
            if peers[key + "_out"] is not None and self.outs.get(mine) is not None:
                vs = f" (against cquant {mine}: {paired(kind, test.y, self.outs[mine], peers[key + '_out'])})"
            rows.append((label, "-", "-", "-", fmt(kind, peers[key]) + vs))
        return rows, choice

    def choose_alpha(self, name, model, kind, method, val, choice):
        """--smooth with each alpha of --smooth-alphas; the one with the best validation metric."""
        best = None
        for a in self.a.smooth_alphas.split(","):
            extra = ["--act-method", method, "--smooth", a]
            f, err, dt = self.ptq(model, kind, os.path.join(self.tmp, f"{name}_smooth_{a}.onnx"), extra)
            if not f:
                return extra, None, err, dt, None
            v = metric(kind, self.run_cquant(f, val, "int")[0], val.y)
            choice.append(f"smooth {a} {fmt(kind, v)}")
            log(f"   --smooth {a}: validation {fmt(kind, v)} (ptq {dt:.1f} s)")
            if best is None or better(kind, v, best[4]):
                best = (extra, f, None, dt, v)
        return best

    def measure(self, name, label, f, dt_ptq, test, kind):
        try:
            cqi, t_cq = self.run_cquant(f, test, "int")
        except RuntimeError as e:
            return (label, f"failed: {e}", "-", "-", "")
        try:
            if "fp8" in label:  # ORT 1.20's level-2+ rewrites refuse or miscompute float8 QDQ files: see the note
                self.notes.add("fp8 rows: ONNX Runtime 1.20 runs at --opt basic. At its default (all) it refuses the LM and ViT "
                               "files (MatMulIntegerToFloat fusion given float8 inputs) and runs the MobileNetV3 file with wrong "
                               "results (16% top-1 on 200 test images where --opt basic/disabled and cquant give 90.5%)")
                raise RuntimeError("float8 file")
            if not ORT_INT8_EXACT and label.startswith("int8") and "dynamic" not in label:  # QDQ semantics at basic
                self.notes.add("int8 rows: this CPU has no VNNI, where ONNX Runtime's int8 kernels add product pairs in int16 and "
                               "saturate on 8-bit weights (tests/ort_cpu.py), so ORT runs them at --opt basic (its QDQ nodes as "
                               "written: exact); at its default level it computes something else than the file says")
                o, t_ort = self.run_ort(f, test, "basic")
                label += " (ORT at --opt basic: no VNNI)"
            else:
                o, t_ort = self.run_ort(f, test)
        except RuntimeError as e:
            # ORT 1.20's level-2 QDQ fusion (MatMulIntegerToFloat) rejects float8 inputs: rerun at --opt basic
            try:
                o, t_ort = self.run_ort(f, test, "basic")
                label += " (ORT at --opt basic)"
                if str(e) != "float8 file":
                    self.notes.add(f"ORT at --opt basic: its default level (all) refuses the file: {str(e)[:220]}")
            except RuntimeError as e2:
                o, t_ort = None, float("nan")
                ov, ag = f"failed: {str(e2)[:120]}", "-"
        if o is not None:
            ov, ag = metric(kind, o, test.y), agree(cqi, o)
        self.timing.append((name, label, f"{dt_ptq:.1f}", t_cq, t_ort))
        self.outs[label.split(" (")[0]] = cqi  # the integer runtime's outputs, for the paired comparison with the peers
        return (label, metric(kind, cqi, test.y), ov, ag, "")


def fx_prepared(net, cal):
    """PyTorch FX post-training static quantization of net up to conversion: the onednn qconfig
    mapping (Embedding left float: its only int8 form in 1.13 is weight-only; the attention mask and
    Softmax left float, as cquant leaves them), observers run on cal (one tensor per model input) in
    batches of 100. convert_fx of the result is the quantized model."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx
    torch.backends.quantized.engine = "onednn"
    qm = get_default_qconfig_mapping("onednn").set_object_type(nn.Embedding, None)
    qm.set_object_type(ti.MaskedSoftmax, None).set_object_type(ti.MaskBias, None)
    prep = prepare_fx(net, qm, tuple(c[:1] for c in cal))
    with torch.no_grad():
        for i in range(0, len(cal[0]), 100):
            prep(*[c[i:i + 100] for c in cal])
    return prep


def sqnr(ref, x):
    """10 log10(sum ref^2 / sum (ref - x)^2) over every element (docs/quantization.md eq. 18)."""
    ref, x = ref.astype(np.float64), x.astype(np.float64)
    e = float(((ref - x) ** 2).sum())
    return math.inf if e == 0 else 10.0 * math.log10(float((ref ** 2).sum()) / e)


def agree(a, b):
    return 100.0 * float((a.argmax(-1) == b.argmax(-1)).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cquant", default=os.path.join(ROOT, "build", "cquant"))
    ap.add_argument("--data")
    ap.add_argument("--models", default=os.path.join(ROOT, "models"))
    ap.add_argument("--only", help="comma-separated: " + ",".join(m[0] for m in MODELS))
    ap.add_argument("--methods", default="all")
    ap.add_argument("--n-test", type=int, default=20000, help="test samples at most (Fashion-MNIST has 10,000, the LM 512 windows, BERT 20,000)")
    ap.add_argument("--n-val", type=int, default=4000, help="validation samples at most (Fashion-MNIST has 2,000, the LM 256 windows, BERT 4,000)")
    ap.add_argument("--md", help="also write the tables to this markdown file")
    ap.add_argument("--no-settings", action="store_true", help="only fp32, int8 static and the peers")
    ap.add_argument("--smooth-alphas", default="0.25,0.5,0.75", help="SmoothQuant alphas tried on the validation set")
    ap.add_argument("--settings", help="only the settings whose label starts with one of these (comma-separated, e.g. 'int8 Smooth')")
    a = ap.parse_args()
    a.data = a.data or os.path.join(os.path.dirname(os.path.abspath(a.cquant)), "issue11_data")
    yt = os.path.join(a.data, "bert_test_y.npy")
    if not os.path.exists(yt) or len(np.load(yt, mmap_mode="r")) != ti.BERT_N_TEST:  # missing, or an older layout
        ti.write_data(a.data)
    torch.set_num_threads(1)
    b = Bench(a)
    only = a.only.split(",") if a.only else None
    t_all = time.perf_counter()
    md = [f"### cquant PTQ on the issue 11 models ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, one thread per runtime; "
          f"torch {torch.__version__})", ""]
    for name, fn, arch, kind in MODELS:
        if only and name not in only:
            continue
        test_n = min(a.n_test, len(np.load(os.path.join(a.data, {"img": "fmnist_test_y.npy", "lm": "lm_test.npy", "tok": "bert_test_y.npy"}[kind]),
                                            mmap_mode="r")))
        unit = "perplexity (lower is better)" if kind == "lm" else "top-1"
        rows, choice = b.one(name, fn, arch, kind)
        md += [f"#### {name} ({fn}): {unit} on {test_n} test {'windows of 64 characters' if kind == 'lm' else 'samples'}", "",
               "| setting | cquant (integer runtime) | ONNX Runtime, same file | cquant/ORT agree | PyTorch |", "|---|---|---|---|---|"]
        for label, cq, ort, ag, pt in rows:
            md.append(f"| {label} | {fmt(kind, cq)} | {fmt(kind, ort)} | {ag if isinstance(ag, str) else f'{ag:.2f}%'} | {pt} |")
        if choice:
            md += ["", "method (and SmoothQuant alpha) choice on the validation set (cquant integer runtime): " + ", ".join(choice)]
        md.append("")
        print("\n".join(md[-(len(rows) + 5):]), flush=True)
    md += ["#### timings (seconds, wall, loaded shared machine)", "", "| model | setting | cquant ptq | cquant run, test set | ORT run, test set |",
           "|---|---|---|---|---|"]
    md += [f"| {n} | {s} | {p} | {c:.1f} | {o:.1f} |" for n, s, p, c, o in b.timing]
    md += [""] + [f"note: {n}" for n in sorted(b.notes)] + [f"whole run: {time.perf_counter() - t_all:.0f} s"]
    text = "\n".join(md)
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
