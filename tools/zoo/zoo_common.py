"""What run_zoo.py, tests/zoo_test.py and bench/zoo_bench.py share: running `cquant run` and ONNX
Runtime (tools/ort/run.js) on one manifest entry with time and peak memory measured per child
process, and the comparison of their outputs."""
import json
import os
import re
import subprocess
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORT_JS = os.path.join(ROOT, "tools", "ort", "run.js")
HAVE_ORT = os.path.isdir(os.path.join(ROOT, "tools", "ort", "node_modules", "onnxruntime-node"))
TOL = 1e-4  # max |cquant - ORT| <= TOL * max |ORT|, per output


def load_manifest(path):
    """The manifest (a folder holding manifest.json, or the file) as (folder, entries)."""
    if os.path.isdir(path):
        path = os.path.join(path, "manifest.json")
    with open(path) as f:
        return os.path.dirname(os.path.abspath(path)), json.load(f)["models"]


def cpus(threads):
    """taskset's list of the first `threads` CPUs this process may use, or None when that is all of them."""
    try:
        mine = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None
    return None if threads >= len(mine) else ",".join(str(c) for c in mine[:threads])


def thread_env(threads):
    e = dict(os.environ)
    e["OMP_NUM_THREADS"] = e["OPENBLAS_NUM_THREADS"] = e["MKL_NUM_THREADS"] = str(threads)
    return e


def measured(cmd, threads=None, timeout=900):
    """Runs cmd; returns (returncode, stdout, stderr, wall seconds, peak RSS in MiB of that child).
    The peak comes from /usr/bin/time (GNU time) where it exists: the rusage of a child forked from
    this Python process would count the parent's pages the child held before its exec."""
    if threads is not None:
        c = cpus(threads)
        if c:
            cmd = ["taskset", "-c", c] + list(cmd)
    env = thread_env(threads) if threads is not None else None
    tf = None
    if os.access("/usr/bin/time", os.X_OK):
        fd, tf = tempfile.mkstemp(prefix="zoo_time.")
        os.close(fd)
        cmd = ["/usr/bin/time", "-f", "%M", "-o", tf] + list(cmd)
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env)
        rc, ru = None, None
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() - t0 > timeout:
                p.kill()
                _, status, ru = os.wait4(p.pid, 0)
                rc = 124
                break
            time.sleep(0.005)
        p.returncode = rc
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode(errors="replace"), fe.read().decode(errors="replace")
    rss = ru.ru_maxrss / 1024.0
    if tf:
        try:
            with open(tf) as f:
                nums = [l.strip() for l in f if l.strip().isdigit()]
            rss = int(nums[-1]) / 1024.0 if nums else rss
        finally:
            os.remove(tf)
    if rc == 124:
        err += f"\ntimed out after {timeout} s"
    return rc, out, err, wall, rss


def input_args(folder, entry):
    return [f"{k}={os.path.join(folder, v)}" for k, v in entry["inputs"].items()]


def error_line(stderr):
    """cquant's error line (the last 'cquant: error' line, else the last line)."""
    lines = [l for l in stderr.strip().splitlines() if l.strip() and not l.startswith("profile:")]
    err = [l for l in lines if "error" in l]
    return (err or lines or ["(no message)"])[-1].strip()


def run_cquant(cq, folder, entry, outdir, threads=None, timeout=900, repeat=1):
    """`cquant run --exec float`: (ok, ms, wall s, peak MiB, error line). With repeat == 1 the ms are
    the first (cold) run's, the sum of its --profile node times; with repeat > 1 the runs' wall times
    from `--repeat`, a list, the first (cold) one included."""
    os.makedirs(outdir, exist_ok=True)
    cmd = [cq, "run", os.path.join(folder, entry["file"]), "--output-dir", outdir, "--exec", "float"]
    cmd += ["--repeat", str(repeat)] if repeat > 1 else ["--profile"]
    for a in input_args(folder, entry):
        cmd += ["--input", a]
    rc, out, err, wall, rss = measured(cmd, threads, timeout)
    if repeat > 1:
        ms = [float(m) for m in re.findall(r"^run [0-9]+: ([0-9.]+) ms$", err, re.M)]
    else:
        ms = sum(float(m) for m in re.findall(r"^profile: .*?([0-9.]+) ms$", err, re.M))
    return rc == 0, ms, wall, rss, ("" if rc == 0 else error_line(err))


def run_ort(folder, entry, outdir, threads=1, repeat=1, timeout=900, opt="all"):
    """ONNX Runtime: (ok, list of run ms, session ms, wall s, peak MiB, error line). opt: its graph
    optimization level (disabled, basic, extended, all)."""
    os.makedirs(outdir, exist_ok=True)
    cmd = ["node", ORT_JS, os.path.join(folder, entry["file"]), outdir, "--threads", str(threads or 1), "--repeat", str(repeat),
           "--opt", opt]
    rc, out, err, wall, rss = measured(cmd + input_args(folder, entry), threads, timeout)
    if rc:
        return False, [], 0.0, wall, rss, error_line(err)
    js = json.loads(out.strip().splitlines()[-1])
    return True, js["run_ms"], js["session_ms"], wall, rss, ""


def _fname(name):
    return name.replace("/", "_").replace("\\", "_") + ".npy"


def _detection_order(scores, boxes):
    """Indices sorting detections by score (descending), ties by box coordinates."""
    keys = [scores.astype(np.float64) * -1.0]
    if boxes is not None and boxes.ndim == 2 and boxes.shape[0] == scores.shape[0]:
        keys = [boxes[:, j] for j in reversed(range(boxes.shape[1]))] + keys
    return np.lexsort(keys)


def load_dir(d):
    """Every NAME.npy of a folder as {NAME: array}."""
    return {f[:-4]: np.load(os.path.join(d, f)) for f in sorted(os.listdir(d)) if f.endswith(".npy")}


def torch_ref(folder, entry):
    """PyTorch's outputs recorded by gen_zoo.py ({} when there are none)."""
    return {k.replace("/", "_").replace("\\", "_"): np.load(os.path.join(folder, v)) for k, v in (entry.get("torch_outputs") or {}).items()}


def compare(entry, cdir, odir, tol=TOL):
    """Compares every reference output (ONNX Runtime's files in odir, or a {name: array} dict) with
    cquant's. Returns (worst relative difference, problem or '' when all agree). Floats: max |d| <=
    tol * max |ref| (NaN equal to NaN); other types exactly. Detection outputs are compared after
    sorting the detections of each by score."""
    ref = dict(odir) if isinstance(odir, dict) else load_dir(odir)
    names = sorted(ref)
    if not names:
        return float("inf"), "no reference outputs"
    det = set(entry.get("detection_outputs") or [])
    mine = {}
    for n in names:
        p = os.path.join(cdir, n + ".npy")
        if not os.path.exists(p):
            return float("inf"), f"output {n}: cquant wrote no file"
        mine[n] = np.load(p)
    if det:
        so = entry.get("score_output") or "scores"
        if so in ref and so in mine:
            if ref[so].shape != mine[so].shape:
                return float("inf"), f"detections: cquant found {mine[so].shape[0]}, ONNX Runtime {ref[so].shape[0]}"
            ro = _detection_order(ref[so], ref.get("boxes"))
            co = _detection_order(mine[so], mine.get("boxes"))
            for n in det & set(names):
                if ref[n].ndim and ref[n].shape[0] == ref[so].shape[0]:
                    ref[n], mine[n] = ref[n][ro], mine[n][co]
    worst, problem = 0.0, ""
    for n in names:
        r, c = ref[n], mine[n]
        if r.shape != c.shape:
            return float("inf"), f"output {n}: shape {c.shape} (cquant) vs {r.shape} (ONNX Runtime)"
        if r.dtype.kind in "fc":
            if r.dtype != c.dtype:
                problem = problem or f"output {n}: type {c.dtype} (cquant) vs {r.dtype} (ONNX Runtime)"
            r64, c64 = r.astype(np.float64), c.astype(np.float64)
            both_nan = np.isnan(r64) & np.isnan(c64)
            d = np.where(both_nan, 0.0, np.abs(r64 - c64))
            scale = float(np.nanmax(np.abs(r64))) if r.size and not np.all(np.isnan(r64)) else 0.0
            dmax = float(np.nanmax(np.where(np.isnan(d), np.inf, d))) if d.size else 0.0
            rel = dmax / scale if scale > 0 else (0.0 if dmax == 0 else float("inf"))
            worst = max(worst, rel)
            if not rel <= tol:
                problem = problem or f"output {n}: max relative difference {rel:.2e} > {tol:g}"
        else:
            if r.dtype != c.dtype:
                problem = problem or f"output {n}: type {c.dtype} (cquant) vs {r.dtype} (ONNX Runtime)"
            elif not np.array_equal(r, c):
                problem = problem or f"output {n}: {int(np.sum(r != c))} of {r.size} elements differ"
    return worst, problem


def judge(folder, entry, cdir, odir, threads=1, timeout=900):
    """cquant's outputs (cdir) against ONNX Runtime's (odir). Where they disagree, ONNX Runtime runs
    again with its graph optimizations disabled (they are not always exact: 1.20 fuses Pad into
    AveragePool and drops count_include_pad) and cquant is also compared with PyTorch's outputs when
    the manifest has them; agreeing with both of those passes. Returns (relative difference, problem or
    '' when it passes, note on ONNX Runtime's optimized difference or '')."""
    rel, problem = compare(entry, cdir, odir)
    if not problem:
        return rel, "", ""
    udir = odir.rstrip("/") + "_unopt"
    oku = run_ort(folder, entry, udir, threads, 1, timeout, opt="disabled")[0]
    relu, pu = compare(entry, cdir, udir) if oku else (float("nan"), "ONNX Runtime failed")
    tref = torch_ref(folder, entry)
    relt, pt = compare(entry, cdir, tref) if tref else (float("nan"), "")
    tnote = f"; PyTorch {relt:.1e}" if tref else ""
    if not pu and not pt:
        return relu, "", f"= ORT without graph optimizations {relu:.1e}{tnote}; ORT optimized: {problem}"
    return rel, f"{problem} (ORT unoptimized {relu:.1e}{tnote}{detection_match(cdir, odir)})", ""


def detection_match(cdir, odir):
    """'; N of M detections matched' (same label, IoU >= 0.9, score within 1e-3) where both runtimes wrote
    boxes/labels/scores: a detection model's outputs can differ through near-equal scores that TopK
    or NonMaxSuppression order differently after float rounding, not through a wrong operator."""
    try:
        r, c = load_dir(odir), load_dir(cdir)
        rb, rl, rs, cb, cl, cs = r["boxes"], r["labels"], r["scores"], c["boxes"], c["labels"], c["scores"]
    except (KeyError, OSError, ValueError):
        return ""
    used, hit = set(), 0
    for i in range(len(rs)):
        best, bj = 0.0, -1
        for j in range(len(cs)):
            if j in used or cl[j] != rl[i] or abs(float(cs[j]) - float(rs[i])) > 1e-3:
                continue
            x0, y0 = max(rb[i][0], cb[j][0]), max(rb[i][1], cb[j][1])
            x1, y1 = min(rb[i][2], cb[j][2]), min(rb[i][3], cb[j][3])
            inter = max(0.0, float(x1 - x0)) * max(0.0, float(y1 - y0))
            ua = float((rb[i][2] - rb[i][0]) * (rb[i][3] - rb[i][1]) + (cb[j][2] - cb[j][0]) * (cb[j][3] - cb[j][1])) - inter
            iou = inter / ua if ua > 0 else float(np.array_equal(rb[i], cb[j]))
            if iou > best:
                best, bj = iou, j
        if best >= 0.9:
            used.add(bj)
            hit += 1
    return f"; {hit} of {len(rs)} ORT detections matched by cquant's ({len(cs)})"


def op_types(folder, entry):
    """(number of nodes, sorted op types) of the main graph, subgraphs included in the count."""
    import onnx
    m = onnx.load(os.path.join(folder, entry["file"]))
    types, count = set(), 0

    def walk(g):
        nonlocal count
        for n in g.node:
            count += 1
            types.add(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}")
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)
    walk(m.graph)
    return count, sorted(types)


def known_ops(cq=None):
    """The op types cquant runs: `cquant ops` where the CLI has it, else the entries of the operator
    tables in src/exec/ops/*.c (a scan of the source tree, which may be ahead of the binary)."""
    import glob
    names = set()
    if cq:
        r = subprocess.run([cq, "ops"], capture_output=True, text=True)
        for line in r.stdout.splitlines() if r.returncode == 0 else []:
            dom, _, op = line.strip().partition(" ")
            if op:
                names.add(op if dom in ("ai.onnx", "") else f"{dom}.{op}")
        if names:
            return names
    for f in glob.glob(os.path.join(ROOT, "src", "exec", "ops", "*.c")):
        with open(f, errors="replace") as fh:
            names.update(re.findall(r'\{\s*"([A-Za-z][A-Za-z0-9_.]*)"\s*,\s*[A-Za-z_]\w*\s*,\s*-?\d+\s*,', fh.read()))
    return names


def short_error(line, model_path):
    """cquant's error line without the 'cquant: error: PATH: ' prefix."""
    line = re.sub(r"^cquant: error: ", "", line)
    for p in (model_path, os.path.basename(model_path)):
        if line.startswith(p + ": "):
            return line[len(p) + 2:]
    return line
