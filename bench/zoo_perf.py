#!/usr/bin/python3
"""cquant's float32 executor vs ONNX Runtime on models already exported by tools/zoo/gen_zoo.py
(a zoo folder with manifest.json): medians of RUNS, cquant and ORT timed alternately in one run so
that the ratio survives a shared machine. Unlike zoo_bench.py it does not regenerate the models.

usage: bench/zoo_perf.py [--cquant build-perf/cquant] [--zoo build-zoo/zoo] [--models a,b] [--opset 13]
                         [--threads 1,2] [--runs 5]
"""
import argparse
import os
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "zoo"))
import zoo_common as zc  # noqa: E402

DEFAULT = ("resnet50,mobilenet_v2,mobilenet_v3_small,mobilenet_v3_large,efficientnet_b0,shufflenet_v2_x1_0,squeezenet1_1,"
           "mnasnet1_0,deeplabv3_mobilenet_v3_large,lraspp_mobilenet_v3_large,convnext_tiny,unet")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cquant", default=os.path.join(ROOT, "build-perf", "cquant"))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "build-zoo", "zoo"))
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    folder, entries = zc.load_manifest(a.zoo)
    tmp = tempfile.mkdtemp(prefix="cquant_zoo_perf.")
    print("| model | threads | cquant ms | ORT ms | ratio | max rel diff |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in a.models.split(","):
        es = [e for e in entries if e["name"] == name and e.get("variant", "fp32") in ("fp32", None) and e.get("opset") == a.opset and e.get("status") == "ok"]
        if not es:
            print(f"| {name} | - | not in the zoo | | | |")
            continue
        e = es[0]
        for th in [int(t) for t in a.threads.split(",")]:
            cdir, odir = os.path.join(tmp, f"{name}_{th}c"), os.path.join(tmp, f"{name}_{th}o")
            cms, oms = [], []
            err = ""
            for _ in range(a.runs):
                ok, ms, _, _, err = zc.run_cquant(a.cquant, folder, e, cdir, th)
                if not ok:
                    break
                cms.append(ms)
                ok, ro, _, _, _, err = zc.run_ort(folder, e, odir, th, 2)
                if not ok:
                    break
                oms.append(min(ro[1:]))
            if err:
                print(f"| {name} | {th} | error: {err} | | | |", flush=True)
                continue
            rel, problem = zc.compare(e, cdir, odir)
            c, o = statistics.median(cms), statistics.median(oms)
            print(f"| {name} | {th} | {c:.1f} | {o:.1f} | {c / o:.2f}x | {rel:.1e}{' FAIL ' + problem if problem else ''} |", flush=True)


if __name__ == "__main__":
    main()
