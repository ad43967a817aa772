#!/usr/bin/python3
"""Runs every model of a zoo manifest (tools/zoo/gen_zoo.py) with cquant's float executor
(`cquant run --exec float`) and with ONNX Runtime (onnxruntime-node, tools/ort/run.js) on the same
inputs, and compares every output: max |cquant - ORT| <= 1e-4 * max |ORT| (detection outputs after
sorting the detections by score, detections whose scores agree within the bound paired by box; a
keypoint at another pixel only where the two heatmap maxima agree within the bound; integer and bool
outputs exactly). Prints one table (model, opset,
variant, nodes, max relative difference, cquant and ORT fp32 time, peak RSS of each, PASS/FAIL with
cquant's error line) and the op types of each model; exits 1 when any model fails.

Where cquant and ORT disagree, ORT runs again with its graph optimizations disabled and cquant is also
compared with PyTorch's own outputs (recorded by gen_zoo.py): a model whose outputs equal both of those
passes, with ORT's optimized difference noted (ORT 1.20 fuses Pad into AveragePool and drops
count_include_pad, which changes inception_v3). Where neither decides, the same graph is evaluated in
float64 (every float tensor widened, run by cquant) and both runtimes are measured against it: cquant
passes where, on every output, it is within the bound of that exact result or no further from it than
ORT is, and ORT is within twice the bound (zoo_common.exact_verdict; the note gives both errors).

Times: cquant = the sum of its per-node times (--profile) in one `cquant run` (a cold run: it includes
weight packing); ORT = the first session.run after session creation (its packing happens at creation).
Peak RSS is each child process's (node's own runtime is about 40 MiB of ORT's).

usage: run_zoo.py [ZOO_DIR|manifest.json] [--cquant PATH] [--models a,b] [--opsets 13] [--variants fp32,fp16]
                  [--threads 1] [--timeout S] [--status FILE] [--keep]
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo_common as zc  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("zoo", nargs="?", default=os.path.join(zc.ROOT, "build", "zoo"))
    ap.add_argument("--cquant", default=None, help="the cquant CLI (default: build/cquant)")
    ap.add_argument("--models", default="", help="only these model names (comma-separated)")
    ap.add_argument("--opsets", default="", help="only these opsets (comma-separated)")
    ap.add_argument("--variants", default="", help="only these variants: fp32, fp16")
    ap.add_argument("--threads", type=int, default=1, help="threads of both runtimes (default 1)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per model and runtime (default 900)")
    ap.add_argument("--status", default="", help="also write the report to this file")
    ap.add_argument("--keep", action="store_true", help="keep the output folders (printed)")
    a = ap.parse_args()
    cq = a.cquant or os.path.join(zc.ROOT, "build", "cquant")
    if not os.path.exists(cq):
        sys.exit(f"run_zoo: no cquant CLI at {cq} (--cquant PATH)")
    if not zc.HAVE_ORT or not shutil.which("node"):
        sys.exit("run_zoo: ONNX Runtime is not installed (scripts/setup installs onnxruntime-node into tools/ort)")
    folder, entries = zc.load_manifest(a.zoo)
    sel = lambda v, s: not s or str(v) in s.split(",")  # noqa: E731
    entries = [e for e in entries if sel(e["name"], a.models) and sel(e["opset"], a.opsets) and sel(e["variant"], a.variants)]
    tmp = tempfile.mkdtemp(prefix="cquant_zoo.")
    known = zc.known_ops(cq)
    rows, types, fails = [], {}, []
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    hdr = (f"| {'model':38s} | op | var  | nodes | max rel diff | cquant ms | ORT ms | cquant MiB | ORT MiB | result")
    say(f"cquant zoo: {len(entries)} models from {folder}, {a.threads} thread(s); tolerance {zc.TOL:g} of max |ORT|")
    say(hdr)
    say("|" + "-" * (len(hdr) - 1))
    for e in entries:
        key = f"{e['name']}_op{e['opset']}_{e['variant']}"
        if e.get("status") != "ok":
            r = f"| {e['name']:38s} | {e['opset']:2d} | {e['variant']} |       |              |           |        |            |         | " \
                f"NOT EXPORTED: {e.get('error', '')}"
            say(r)
            continue
        n, ts = zc.op_types(folder, e)
        types[key] = ts
        cdir, odir = os.path.join(tmp, key, "cquant"), os.path.join(tmp, key, "ort")
        okc, cms, cwall, crss, cerr = zc.run_cquant(cq, folder, e, cdir, a.threads, a.timeout)
        oko, oms, _, owall, orss, oerr = zc.run_ort(folder, e, odir, a.threads, 1, a.timeout)
        rel, problem, note = float("nan"), "", ""
        if not oko:
            problem = "ONNX Runtime failed: " + oerr
        elif not okc:
            problem = zc.short_error(cerr, os.path.join(folder, e["file"]))
        else:
            rel, problem, note = zc.judge(folder, e, cdir, odir, a.threads, a.timeout, cq=cq)
        result = ("PASS" + (f" ({note})" if note else "")) if not problem else "FAIL " + problem
        if problem:
            fails.append((key, problem))
        rels = f"{rel:12.2e}" if rel == rel else f"{'-':>12s}"
        cm = f"{cms:9.1f}" if okc else f"{'-':>9s}"
        om = f"{oms[0]:6.1f}" if oko else f"{'-':>6s}"
        say(f"| {e['name']:38s} | {e['opset']:2d} | {e['variant']} | {n:5d} | {rels} | {cm} | {om} | {crss:10.0f} | {orss:7.0f} | {result}")
    say()
    np_ = sum(1 for e in entries if e.get("status") == "ok") - len(fails)
    say(f"{np_} passed, {len(fails)} failed, {sum(1 for e in entries if e.get('status') != 'ok')} not exported")
    if fails:
        say("\nfailing models, with cquant's first error [op types of the model that `cquant ops` does not list]:")
        missing = {}
        for k, p in fails:
            miss = [t for t in types.get(k, []) if t not in known]
            for t in miss:
                missing.setdefault(t, []).append(k)
            say(f"  {k}: {p}" + (f" [{' '.join(miss)}]" if miss else ""))
        if missing:
            say("\nop types cquant does not run, and the failing models that use them:")
            for t, ks in sorted(missing.items(), key=lambda x: (-len(x[1]), x[0])):
                say(f"  {t} ({len(ks)}): {' '.join(ks)}")
    say("\nop types per model:")
    for k, ts in types.items():
        say(f"  {k}: {' '.join(ts)}")
    if a.status:
        with open(a.status, "w") as f:
            f.write("\n".join(lines) + "\n")
    if a.keep:
        print(f"outputs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
