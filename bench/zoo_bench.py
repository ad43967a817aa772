#!/usr/bin/python3
"""cquant's float32 executor against ONNX Runtime's float32 on the zoo's real exporter output
(tools/zoo/gen_zoo.py, opset 13, random weights): the classification and segmentation models of
torchvision and the U-Net, batch 1, 1 and 2 threads.

cquant: `cquant run --exec float --profile`, one process per run, time = the sum of the per-node times
(model loading and .npy writing excluded); the threads are set by OMP_NUM_THREADS/OPENBLAS_NUM_THREADS
and the CPU set (taskset), as cquant_get_num_threads follows the CPUs the process may use.
ONNX Runtime 1.20 (onnxruntime-node): intraOpNumThreads, same CPU set, one session and RUNS timed
session.run calls after one warm-up run. Medians of RUNS; ratio = cquant ms / ORT ms (above 1: cquant
slower). Every cquant run is the first run of its process (no warm-up), so ORT's own first run is
printed beside it. Peak memory: each child process's peak RSS (ORT's includes node's own ~40 MiB).
Outputs are compared as in run_zoo.py; a model that fails there is listed with cquant's error.

usage: /usr/bin/python3 bench/zoo_bench.py [PATH/TO/cquant] [--zoo DIR] [--models a,b|group] [--runs 5]
                                           [--threads 1,2] [--size 224]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "zoo"))
import zoo_common as zc  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cquant", nargs="?", default=os.path.join(ROOT, "build", "cquant"))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "build", "zoo_bench"), help="where the models are generated")
    ap.add_argument("--models", default="classification,segmentation,unet")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--size", type=int, default=224)
    a = ap.parse_args()
    if not zc.HAVE_ORT:
        sys.exit("zoo_bench: onnxruntime-node is not installed (scripts/setup)")
    mf = os.path.join(a.zoo, "manifest.json")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "zoo", "gen_zoo.py"), a.zoo, "--models", a.models, "--opsets", "13",
                        "--size", str(a.size), "--append", "--skip-existing"], capture_output=True, text=True)
    if r.returncode or not os.path.exists(mf):
        sys.exit("zoo_bench: gen_zoo.py failed:\n" + r.stdout + r.stderr)
    folder, entries = zc.load_manifest(a.zoo)
    cats = ("classification", "segmentation", "unet")
    entries = [e for e in entries if e.get("opset") == 13 and e.get("variant") == "fp32" and e.get("category", cats[0]) in cats]
    threads = [int(t) for t in a.threads.split(",")]
    tmp = tempfile.mkdtemp(prefix="cquant_zoo_bench.")
    print(f"cquant fp32 vs ONNX Runtime fp32 on the zoo, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; batch 1, opset 13, "
          f"medians of {a.runs} runs (ms)\n")
    print("| model | input | threads | cquant ms | ORT ms | time ratio | ORT first run ms | cquant MiB | ORT MiB | memory ratio | max rel diff |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    skipped = []
    for e in entries:
        if e.get("status") != "ok":
            skipped.append(f"{e['name']}: not exported ({e.get('error')})")
            continue
        shape = "x".join(str(d) for d in __import__("numpy").load(os.path.join(folder, next(iter(e["inputs"].values())))).shape)
        for th in threads:
            cdir, odir = os.path.join(tmp, e["name"] + f"_{th}c"), os.path.join(tmp, e["name"] + f"_{th}o")
            cms, crss = [], 0.0
            ok, err = True, ""
            for _ in range(a.runs):
                okc, ms, _, rss, cerr = zc.run_cquant(a.cquant, folder, e, cdir, th)
                if not okc:
                    ok, err = False, zc.short_error(cerr, os.path.join(folder, e["file"]))
                    break
                cms.append(ms)
                crss = max(crss, rss)
            if not ok:
                skipped.append(f"{e['name']}: cquant fails: {err}")
                break
            oko, oms, _, _, orss, oerr = zc.run_ort(folder, e, odir, th, a.runs + 1)
            if not oko:
                skipped.append(f"{e['name']}: ONNX Runtime fails: {oerr}")
                break
            rel, problem = zc.compare(e, cdir, odir)
            c, o = statistics.median(cms), statistics.median(oms[1:])
            print(f"| {e['name']} | {shape} | {th} | {c:.1f} | {o:.1f} | {c / o:.2f}x | {oms[0]:.1f} | {crss:.0f} | {orss:.0f} | {crss / orss:.2f}x | "
                  f"{rel:.1e}{'' if not problem else ' FAIL'} |", flush=True)
    if skipped:
        print("\nnot measured:")
        for s in skipped:
            print("  " + s)


if __name__ == "__main__":
    main()
