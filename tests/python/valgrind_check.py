"""Runs every cquant Python API once (successes and error paths) under valgrind and fails on any
invalid access, use of uninitialised memory, or a definitely lost block allocated from libcquant or
the module (the interpreter's own one-time allocations are not counted). CTest: label valgrind.
  python3 tests/python/valgrind_check.py            (PYTHONPATH=build/python)"""
import os
import re
import subprocess
import sys
import tempfile

SOURCE_DIR = os.environ.get("CQUANT_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def exercise():
    import numpy as np

    import cquant

    os.chdir(SOURCE_DIR)
    x = np.linspace(-1, 1, 60, dtype=np.float32).reshape(6, 10)
    for kw in ({}, {"axis": 1}, {"axis": 1, "group_size": 5, "dtype": "int4"}, {"dtype": "fp8e4m3"}):
        q, qp = cquant.quantize(x[:, ::2] if "group_size" not in kw else x, **kw)
        cquant.dequantize(q, qp); repr(qp); qp.scale; qp.zero_point; cquant.QParams.from_json(qp.to_json())
        cquant.fake_quantize(x, **kw); cquant.error_report(x, x, qp if not kw else None)
    for bad in (None, np.zeros(3), "s"):
        try: cquant.quantize(bad)
        except TypeError: pass
    for kw in ({"dtype": "int9"}, {"axis": 7}, {"scale": 0.0}):
        try: cquant.quantize(x, **kw)
        except ValueError: pass
    try: cquant.QParams.from_json("{}")
    except RuntimeError: pass
    o = cquant.Observer("entropy"); o.update(x); o2 = cquant.Observer("entropy"); o2.update(x * 2); o.merge(o2); o.range(); o.qparams(); o.stats()
    try: cquant.Observer("entropy", axis=0)
    except ValueError: pass
    b = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    d = tempfile.mkdtemp()
    r = cquant.ptq("models/fmnist_cnn.onnx", [b, b], d + "/m.onnx", report=d + "/r.json")
    cquant.run(d + "/m.onnx", {"input": b}, exec="int"); cquant.run("models/fmnist_cnn.onnx", {"input": b})
    def gen():
        yield b
        raise KeyError("boom")
    try: cquant.ptq("models/fmnist_cnn.onnx", gen(), d + "/m2.onnx")
    except KeyError: pass
    try: cquant.ptq("models/fmnist_cnn.onnx", [np.zeros((2, 2), np.float32)], d + "/m2.onnx")
    except ValueError: pass
    try: cquant.run("models/nosuch.onnx", {})
    except OSError: pass
    with open(d + "/ov.json", "w") as f:  # per-node overrides, --quantize-ops, and a bad override file
        f.write('{"nodes": {"/conv1/Conv": {"weights": "int4", "granularity": "tensor"}, "/fc1/Gemm": {"act_method": "percentile"}}}')
    try: cquant.ptq("models/fmnist_cnn.onnx", [b, b], d + "/m3.onnx", overrides=d + "/ov.json", quantize_ops="Softmax")
    except ValueError: pass
    with open(d + "/bad.json", "w") as f:
        f.write('{"nodes": {"nosuch": {"exclude": true}}}')
    try: cquant.ptq("models/fmnist_cnn.onnx", [b, b], d + "/m4.onnx", overrides=d + "/bad.json")
    except ValueError: pass
    np.save(d + "/x.npy", np.concatenate([b, b]))  # the new data and format paths: specs with options, a dict, refusals
    cquant.ptq("models/fmnist_cnn.onnx", d + "/x.npy", d + "/m5.onnx", weights="uint4", weight_granularity="group:16", batch=4, mean=(0.1, 0.1, 0.1))
    try: cquant.ptq("models/fmnist_cnn.onnx", {"input": d + "/x.npy", "nosuch": d + "/x.npy"}, d + "/m6.onnx")
    except ValueError: pass
    try: cquant.ptq("models/fmnist_cnn.onnx", d + "/x.npy", d + "/m6.onnx", weights="int2", format="qop")
    except ValueError: pass
    try: cquant.ptq("models/fmnist_cnn.onnx", d + "/x.npy", d + "/m6.onnx", crop=(1, 2, 3, 4))
    except TypeError: pass
    np.save(d + "/y.npy", np.arange(8) % 10)  # labels from a file: eval and ptq, and their refusals
    cquant.eval("models/fmnist_cnn.onnx", d + "/x.npy", labels=d + "/y.npy", batch=3)
    cquant.eval(d + "/m.onnx", [(b, np.zeros(4, np.int64))], exec="int")
    cquant.ptq("models/fmnist_cnn.onnx", [b, b], d + "/m7.onnx", act_method=["minmax", "percentile"], eval=d + "/x.npy", eval_labels=d + "/y.npy")
    for kw in ({"labels": d + "/x.npy"}, {"labels": d + "/nosuch.npy"}, {"exec": "no"}, {}):
        try: cquant.eval("models/fmnist_cnn.onnx", d + "/x.npy", **kw)
        except (ValueError, OSError): pass
    print("done")


def main():
    if sys.argv[1:] == ["--child"]:
        exercise()
        return 0
    env = dict(os.environ, PYTHONMALLOC="malloc", OMP_NUM_THREADS="1")
    p = subprocess.run(["valgrind", "--leak-check=full", "--num-callers=40", sys.executable, os.path.abspath(__file__), "--child"],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0 or "done" not in p.stdout:
        print(p.stdout, p.stderr[-4000:])
        return 1
    # the dynamic loader reading the module's RPATH is a known valgrind false positive (dl-load.c)
    bad = [b for b in re.split(r"\n==\d+== \n", p.stderr) if "dl-load.c" not in b
           and (re.search(r"Invalid (read|write|free)|uninitialised|Mismatched free", b)
           or ("definitely lost" in b and re.search(r"cquant", b)))]
    for b in bad:
        print(b)
    print(f"valgrind: {len(bad)} problems in cquant")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
