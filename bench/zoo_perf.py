#!/usr/bin/python3
"""cquant's float32 executor vs ONNX Runtime on models already exported by tools/zoo/gen_zoo.py
(a zoo folder with manifest.json), both warm: each process loads the model once and runs it
REPEAT times (`cquant run --repeat`, ORT's run.js --repeat); the first, cold run of each is dropped
and the fastest of the rest kept. That is the steady state calibration sees (one model, many
batches). RUNS such processes of each, cquant and ORT alternately so that the ratio survives a
shared machine; the table gives the medians. Unlike zoo_bench.py it does not regenerate the models.

usage: bench/zoo_perf.py [--cquant build-perf/cquant] [--zoo build-zoo/zoo] [--models a,b] [--opset 13]
                         [--threads 1,2] [--runs 5] [--repeat 6]
"""
import argparse
import ctypes
import os
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "zoo"))
import zoo_common as zc  # noqa: E402

DEFAULT = ("resnet18,resnet50,mobilenet_v2,mobilenet_v3_small,mobilenet_v3_large,efficientnet_b0,regnet_y_400mf,shufflenet_v2_x1_0,"
           "squeezenet1_1,densenet121,googlenet,inception_v3,mnasnet1_0,convnext_tiny,vit_b_16,swin_t,deeplabv3_mobilenet_v3_large,fcn_resnet50,"
           "lraspp_mobilenet_v3_large,unet")  # the classification, segmentation and U-Net models


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cquant", default=os.path.join(ROOT, "build-perf", "cquant"))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "build-zoo", "zoo"))
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=6)
    a = ap.parse_args()
    folder, entries = zc.load_manifest(a.zoo)
    tmp = tempfile.mkdtemp(prefix="cquant_zoo_perf.")
    print(f"load average at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {blas_core()}; "
          f"scheduling policy {'SCHED_FIFO' if os.sched_getscheduler(0) == os.SCHED_FIFO else 'normal'}", flush=True)
    print("| model | threads | cquant ms | ORT ms | ratio | cquant MiB | ORT MiB | ratio | max rel diff |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in a.models.split(","):
        es = [e for e in entries if e["name"] == name and e.get("variant", "fp32") in ("fp32", None) and e.get("opset") == a.opset and e.get("status") == "ok"]
        if not es:
            print(f"| {name} | - | not in the zoo | | | |")
            continue
        e = es[0]
        for th in [int(t) for t in a.threads.split(",")]:
            cdir, odir = os.path.join(tmp, f"{name}_{th}c"), os.path.join(tmp, f"{name}_{th}o")
            cms, oms, crss, orss = [], [], [], []
            err = ""
            for _ in range(a.runs):
                ok, rc, _, cr, err = zc.run_cquant(a.cquant, folder, e, cdir, th, repeat=max(a.repeat, 2))
                if not ok:
                    break
                cms.append(min(rc[1:]))
                crss.append(cr)
                ok, ro, _, _, orr, err = zc.run_ort(folder, e, odir, th, max(a.repeat, 2))
                if not ok:
                    break
                oms.append(min(ro[1:]))
                orss.append(orr)
            if err:
                print(f"| {name} | {th} | error: {err} | | | |", flush=True)
                continue
            rel, problem = zc.compare(e, cdir, odir)
            c, o = statistics.median(cms), statistics.median(oms)
            cm, om = statistics.median(crss), statistics.median(orss)
            print(f"| {name} | {th} | {c:.1f} | {o:.1f} | {c / o:.2f}x | {cm:.0f} | {om:.0f} | {cm / om:.2f}x | "
                  f"{rel:.1e}{' FAIL ' + problem if problem else ''} |", flush=True)
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


def blas_core():
    """The kernel OpenBLAS picks in this environment (the children's, less the thread counts)."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        core = "unknown"
    return f"OpenBLAS core {core} (OPENBLAS_CORETYPE {os.environ.get('OPENBLAS_CORETYPE', 'unset')})"


if __name__ == "__main__":
    main()
