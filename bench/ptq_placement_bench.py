#!/usr/bin/python3
"""QDQ placement options on the issue 11 transformers: fp32 beside int8 static with the
activation-activation MatMuls quantized or float (--quantize-act-matmul on|off) and with
LayerNormalization, Softmax and Gelu quantized too (--quantize-ops), each file run by cquant's
integer runtime and by ONNX Runtime, with the share of predictions on which the two agree.

usage: /usr/bin/python3 bench/ptq_placement_bench.py [--cquant build/cquant] [--data DIR] [--only vit_op17,...]
         [--n-test N] [--method M] [--md OUT.md]
DIR: the data of models/train_issue11.py --data-only (default: issue11_data next to the cquant binary).
Metrics as bench/ptq_models_bench.py (top-1; perplexity for the LM); one thread per runtime.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptq_models_bench as pb  # noqa: E402

MODELS = [("vit_op17", "fmnist_vit_op17.onnx", "img"), ("vit_op13", "fmnist_vit_op13.onnx", "img"),
          ("char_lm", "pystdlib_lm.onnx", "lm"), ("bert", "codelang_bert.onnx", "tok")]
SETTINGS = [("int8, act-act MatMul float", ["--quantize-act-matmul", "off"]),
            ("int8, act-act MatMul quantized (default)", ["--quantize-act-matmul", "on"]),
            ("int8, + LayerNormalization, Softmax, Gelu", ["--quantize-act-matmul", "on", "--quantize-ops", "LayerNormalization,Softmax,Gelu"]),
            ("int8, + LayerNormalization", ["--quantize-act-matmul", "on", "--quantize-ops", "LayerNormalization"]),
            ("int8, + Softmax", ["--quantize-act-matmul", "on", "--quantize-ops", "Softmax"]),
            ("int8, + Gelu", ["--quantize-act-matmul", "on", "--quantize-ops", "Gelu"])]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cquant", default=os.path.join(pb.ROOT, "build", "cquant"))
    ap.add_argument("--data")
    ap.add_argument("--models", default=os.path.join(pb.ROOT, "models"))
    ap.add_argument("--only")
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--method", default="minmax")
    ap.add_argument("--md")
    a = ap.parse_args()
    a.data = a.data or os.path.join(os.path.dirname(os.path.abspath(a.cquant)), "issue11_data")
    a.n_val, a.methods = 0, a.method
    b = pb.Bench(a)
    md = [f"### QDQ placement on the issue 11 transformers ({time.strftime('%Y-%m-%d')}; act method {a.method}; "
          f"{a.n_test} test samples or fewer)", ""]
    for name, fn, kind in MODELS:
        if a.only and name not in a.only.split(","):
            continue
        model = os.path.join(a.models, fn)
        test = b.data_for(kind, "test")
        cq32, _ = b.run_cquant(model, test, "float")
        ort32, _ = b.run_ort(model, test)
        unit = "perplexity (lower is better)" if kind == "lm" else "top-1"
        md += [f"#### {name} ({fn}): {unit} on {test.n} test {'windows' if kind == 'lm' else 'samples'}", "",
               "| setting | cquant (integer runtime) | ONNX Runtime, same file | cquant/ORT agree |", "|---|---|---|---|",
               f"| fp32 | {pb.fmt(kind, pb.metric(kind, cq32, test.y))} | {pb.fmt(kind, pb.metric(kind, ort32, test.y))} | "
               f"{pb.agree(cq32, ort32):.2f}% |"]
        for label, extra in SETTINGS:
            out = os.path.join(b.tmp, f"{name}_{len(md)}.onnx")
            f, err, _ = b.ptq(model, kind, out, ["--act-method", a.method] + extra)
            if not f:
                md.append(f"| {label} | failed: {err} | - | - |")
                continue
            try:
                cqi, _ = b.run_cquant(f, test, "int")
                o, _ = b.run_ort(f, test)
                md.append(f"| {label} | {pb.fmt(kind, pb.metric(kind, cqi, test.y))} | {pb.fmt(kind, pb.metric(kind, o, test.y))} | "
                          f"{pb.agree(cqi, o):.2f}% |")
            except RuntimeError as e:
                md.append(f"| {label} | failed: {str(e)[:150]} | - | - |")
            pb.log(md[-1])
        md.append("")
        print("\n".join(md[-(len(SETTINGS) + 6):]), flush=True)
    text = "\n".join(md)
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
