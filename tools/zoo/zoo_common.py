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


def _match_near_ties(rs, cs, rb, cb, ro, co, tol):
    """cquant's detection order (co) with detections of near-equal score re-paired with the
    reference's. Both lists are sorted by score; neighbours whose scores differ by at most tol * max
    |score| in either run form a tie group (rounding may order them either way), and inside a group
    each reference detection takes the closest remaining cquant box (greedy on the largest coordinate
    difference). Returns (new order, number of detections that moved)."""
    rs, cs = rs[ro].astype(np.float64), cs[co].astype(np.float64)
    t = tol * max(float(np.abs(rs).max()) if rs.size else 0.0, 1e-30)
    co = co.copy()
    moved, k, n = 0, 0, len(rs)
    while k < n:
        j = k + 1
        while j < n and (abs(rs[j - 1] - rs[j]) <= t or abs(cs[j - 1] - cs[j]) <= t):
            j += 1
        if j - k > 1:
            gr, gc = ro[k:j], co[k:j]
            d = np.abs(rb[gr][:, None, :].astype(np.float64) - cb[gc][None, :, :].astype(np.float64)).max(2)
            pick = np.empty(j - k, dtype=np.int64)
            for _ in range(j - k):
                a, b = np.unravel_index(int(np.argmin(d)), d.shape)
                pick[a] = gc[b]
                d[a, :] = np.inf
                d[:, b] = np.inf
            moved += int(np.sum(pick != gc))
            co[k:j] = pick
        k = j
    return co, moved


# argmax outputs of detection models: the location output and the output holding the value found
# there (keypointrcnn: each keypoint is the argmax of its heatmap, keypoints_scores the maximum)
ARGMAX_OUTPUTS = {"keypoints": "keypoints_scores"}


def load_dir(d):
    """Every NAME.npy of a folder as {NAME: array}."""
    return {f[:-4]: np.load(os.path.join(d, f)) for f in sorted(os.listdir(d)) if f.endswith(".npy")}


def torch_ref(folder, entry):
    """PyTorch's outputs recorded by gen_zoo.py ({} when there are none)."""
    return {k.replace("/", "_").replace("\\", "_"): np.load(os.path.join(folder, v)) for k, v in (entry.get("torch_outputs") or {}).items()}


def compare_outputs(entry, cdir, odir, tol=TOL, any_float=False):
    """Every reference output (a folder of NAME.npy, or a {name: array} dict) against cquant's (a
    folder or a dict). Returns ({name: relative difference}, problem or '', notes). Floats: max |d| /
    max |ref| (NaN equal to NaN), a problem above tol; other types exactly (inf when they differ).
    any_float: a float output may have another float type than the reference (the float64
    evaluation). Detection outputs (entry's detection_outputs) are compared after sorting the
    detections by score, near-equal scores paired by box (_match_near_ties); an argmax output
    (ARGMAX_OUTPUTS) whose location differs where the maxima found agree within tol is a near-tied
    maximum and counts as equal (said in notes)."""
    ref = dict(odir) if isinstance(odir, dict) else load_dir(odir)
    names = sorted(ref)
    notes = []
    if not names:
        return {}, "no reference outputs", notes
    det = set(entry.get("detection_outputs") or [])
    got = cdir if isinstance(cdir, dict) else load_dir(cdir)
    for n in names:
        if n not in got:
            return {n: float("inf")}, f"output {n}: cquant wrote no file", notes
    mine = {n: got[n] for n in names}
    if det:
        so = entry.get("score_output") or "scores"
        if so in ref and so in mine:
            if ref[so].shape != mine[so].shape:
                return {so: float("inf")}, f"detections: cquant found {mine[so].shape[0]}, ONNX Runtime {ref[so].shape[0]}", notes
            ro = _detection_order(ref[so], ref.get("boxes"))
            co = _detection_order(mine[so], mine.get("boxes"))
            rb, cb = ref.get("boxes"), mine.get("boxes")
            if rb is not None and cb is not None and rb.shape == cb.shape and rb.ndim == 2 and rb.shape[0] == len(ro):
                co, moved = _match_near_ties(ref[so], mine[so], rb, cb, ro, co, tol)
                if moved:
                    notes.append(f"{moved} detections of near-equal score paired by box")
            for n in det & set(names):
                if ref[n].ndim and ref[n].shape[0] == ref[so].shape[0] and mine[n].shape[:1] == ref[n].shape[:1]:
                    ref[n], mine[n] = ref[n][ro], mine[n][co]
    for loc, val in ARGMAX_OUTPUTS.items():
        if loc in ref and val in ref and loc in mine and val in mine and ref[loc].shape == mine[loc].shape \
                and ref[val].shape == mine[val].shape and ref[loc].shape[:-1] == ref[val].shape and ref[loc].size:
            r, c = ref[loc].astype(np.float64), mine[loc].astype(np.float64)
            rv, cv = ref[val].astype(np.float64), mine[val].astype(np.float64)
            off = np.abs(r - c).max(-1) > tol * float(np.abs(r).max())
            tied = off & (np.abs(rv - cv) <= tol * max(float(np.abs(rv).max()), 1e-30))
            if tied.any():
                mine[loc] = np.where(tied[..., None], ref[loc], mine[loc])
                notes.append(f"{int(tied.sum())} of {tied.size} {loc} at a near-tied maximum (the values found agree)")
    rels, problem = {}, ""
    for n in names:
        r, c = ref[n], mine[n]
        if r.shape != c.shape:
            return {n: float("inf")}, f"output {n}: shape {c.shape} (cquant) vs {r.shape} (reference)", notes
        if r.dtype.kind in "fc":
            if r.dtype != c.dtype and not (any_float and c.dtype.kind in "fc"):
                problem = problem or f"output {n}: type {c.dtype} (cquant) vs {r.dtype} (reference)"
            r64, c64 = r.astype(np.float64), c.astype(np.float64)
            both_nan = np.isnan(r64) & np.isnan(c64)
            d = np.where(both_nan, 0.0, np.abs(r64 - c64))
            scale = float(np.nanmax(np.abs(r64))) if r.size and not np.all(np.isnan(r64)) else 0.0
            dmax = float(np.nanmax(np.where(np.isnan(d), np.inf, d))) if d.size else 0.0
            rel = dmax / scale if scale > 0 else (0.0 if dmax == 0 else float("inf"))
            rels[n] = rel
            if not rel <= tol:
                problem = problem or f"output {n}: max relative difference {rel:.2e} > {tol:g}"
        else:
            rels[n] = 0.0
            if r.dtype != c.dtype:
                rels[n] = float("inf")
                problem = problem or f"output {n}: type {c.dtype} (cquant) vs {r.dtype} (reference)"
            elif not np.array_equal(r, c):
                rels[n] = float("inf")
                problem = problem or f"output {n}: {int(np.sum(r != c))} of {r.size} elements differ"
    return rels, problem, notes


def compare(entry, cdir, odir, tol=TOL):
    """compare_outputs reduced to (worst relative difference, problem or '' when all agree)."""
    rels, problem, _ = compare_outputs(entry, cdir, odir, tol)
    return (max(rels.values()) if rels else float("inf")), problem


def to_float64(src, dst):
    """The model with every float32 and float16 tensor made float64: initializers, Constant and
    ConstantOfShape values, graph inputs/outputs/value_info, Cast(to=float) in every subgraph. Run in
    cquant's executor this evaluates the same graph with rounding errors some 1e-9 times smaller: a
    reference for what float32 runtimes should compute."""
    import onnx
    from onnx import TensorProto, numpy_helper

    def tensor(t):
        if t.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16):
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))

    def graph(g):
        for t in g.initializer:
            tensor(t)
        for v in list(g.input) + list(g.output) + list(g.value_info):
            if v.type.tensor_type.elem_type == TensorProto.FLOAT:
                v.type.tensor_type.elem_type = TensorProto.DOUBLE
        for n in g.node:
            for a in n.attribute:
                if n.op_type == "Cast" and a.name == "to" and a.i in (TensorProto.FLOAT, TensorProto.FLOAT16):
                    a.i = TensorProto.DOUBLE
                if a.type == onnx.AttributeProto.TENSOR:
                    tensor(a.t)
                if a.type == onnx.AttributeProto.GRAPH:
                    graph(a.g)
                for sg in a.graphs:
                    graph(sg)
    m = onnx.load(src)
    graph(m.graph)
    onnx.save(m, dst)


def run_exact(cq, folder, entry, outdir, threads=None, timeout=900):
    """The model evaluated in float64 by cquant (to_float64; float inputs widened): (ok, error line)."""
    os.makedirs(outdir, exist_ok=True)
    e = {"file": "model64.onnx", "inputs": {}}
    to_float64(os.path.join(folder, entry["file"]), os.path.join(outdir, e["file"]))
    for k, v in entry["inputs"].items():
        a = np.load(os.path.join(folder, v))
        f = os.path.join(outdir, f"input64.{_fname(k)}")
        np.save(f, a.astype(np.float64) if a.dtype.kind == "f" else a)
        e["inputs"][k] = f
    res = os.path.join(outdir, "out")
    ok, _, _, _, err = run_cquant(cq, outdir, e, res, threads, timeout)
    os.remove(os.path.join(outdir, e["file"]))
    return ok, err


def exact_verdict(entry, cdir, odir, exact, tol=TOL):
    """Both runtimes against the float64 evaluation of the same graph (exact: a folder or dict).
    cquant passes where, on every output, its relative error is within tol or no larger than ONNX
    Runtime's own, and ONNX Runtime's is within 2 tol (ORT, an independent implementation, confirms
    that the float64 evaluation computes the graph it computes). Returns (problem or '', note)."""
    ex = dict(exact) if isinstance(exact, dict) else load_dir(exact)
    ec, pc, nc = compare_outputs(entry, cdir, ex, tol, any_float=True)
    eo, po, _ = compare_outputs(entry, odir, ex, tol, any_float=True)
    if not ec or not eo:
        return f"against the float64 evaluation: cquant {pc or 'ok'}, ONNX Runtime {po or 'ok'}", ""
    worst = []
    for n in sorted(ex):
        c, o = ec.get(n, float("inf")), eo.get(n, float("inf"))
        if not o <= 2 * tol:
            return f"output {n}: ONNX Runtime is {o:.2e} from the float64 evaluation (> {2 * tol:g})", ""
        if not (c <= tol or c <= o):
            return f"output {n}: cquant is {c:.2e} from the float64 evaluation, ONNX Runtime {o:.2e}", ""
        if c > 0 or o > 0:
            worst.append(f"{n} {c:.1e} / {o:.1e}")
    ties = "; ".join(nc)
    return "", "float64 evaluation, cquant / ORT: " + ", ".join(worst) + (f"; {ties}" if ties else "")


def judge(folder, entry, cdir, odir, threads=1, timeout=900, cq=None):
    """cquant's outputs (cdir) against ONNX Runtime's (odir). Where they disagree, ONNX Runtime runs
    again with its graph optimizations disabled (they are not always exact: 1.20 fuses Pad into
    AveragePool and drops count_include_pad) and cquant is also compared with PyTorch's outputs when
    the manifest has them; agreeing with both of those passes. Where that does not decide and cq is
    given, the graph is evaluated in float64 (run_exact) and exact_verdict decides: two float32
    runtimes, each within the bound of the exact result, may be twice the bound apart. Returns
    (relative difference against ORT optimized, problem or '' when it passes, note)."""
    rels, problem, notes = compare_outputs(entry, cdir, odir)
    rel = max(rels.values()) if rels else float("inf")
    tie = "; ".join(notes)
    if not problem:
        return rel, "", tie
    udir = odir.rstrip("/") + "_unopt"
    oku = run_ort(folder, entry, udir, threads, 1, timeout, opt="disabled")[0]
    relu, pu = compare(entry, cdir, udir) if oku else (float("nan"), "ONNX Runtime failed")
    tref = torch_ref(folder, entry)
    relt, pt = compare(entry, cdir, tref) if tref else (float("nan"), "")
    tnote = f"; PyTorch {relt:.1e}" if tref else ""
    if not pu and not pt:
        return relu, "", f"= ORT without graph optimizations {relu:.1e}{tnote}; ORT optimized: {problem}"
    xnote = ""
    if cq:
        xdir = odir.rstrip("/") + "_exact"
        okx, xerr = run_exact(cq, folder, entry, xdir, threads, timeout)
        if okx:
            px, note = exact_verdict(entry, cdir, odir, os.path.join(xdir, "out"))
            if not px:
                return rel, "", f"{note}; ORT optimized: {problem}"
            xnote = "; " + px
        else:
            xnote = "; float64 evaluation failed: " + xerr
    return rel, f"{problem} (ORT unoptimized {relu:.1e}{tnote}{detection_match(cdir, odir)}{xnote})", ""


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
