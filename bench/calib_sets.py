#!/usr/bin/python3
"""Issue 11's int8 static rows over several calibration sets: cquant ptq (int8 static, one
--act-method) and PyTorch 1.13 FX post-training static quantization (ptq_models_bench.fx_prepared,
the table's configuration) calibrated on the same samples, measured on the same test set (cquant's
file in cquant's integer runtime, 500 samples per call as in ptq_models_bench). One set decides a
difference of a few samples either way; the mean over sets is the comparison this prints, with
each model's agreement with fp32's predictions (the share of test samples on which its top-1 class
is fp32's) beside its top-1.

  --arch fmnist_vit     set k: training images [k N, (k + 1) N) (N = --n, default 2,000); test: the
                        10,000 Fashion-MNIST test images
  --arch codelang_bert  set k: 512 training snippets drawn with seed 7 + 100 k; test: the 20,000
                        test snippets of models/train_issue11.py --data-only (written when missing)
Set 0 is ptq_models_bench.py's calibration set in both cases.

usage: /usr/bin/python3 bench/calib_sets.py [--arch fmnist_vit|codelang_bert] [--cquant build/cquant]
         [--model FILE.onnx] [--data DIR] [--sets 5] [--n 2000] [--method minmax]
"""
import argparse
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))
import train_issue11 as ti  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "bench"))
import ptq_models_bench as pmb  # noqa: E402  (the FX configuration and runtimes of issue 11's table)

ARCH = {"fmnist_vit": ("fmnist_vit_op17.onnx", ["input"]), "codelang_bert": ("codelang_bert.onnx", ["input_ids", "attention_mask"])}


def sets_of(a):
    """The calibration sets (each a list of arrays, one per model input) and the test arrays and labels."""
    if a.arch == "fmnist_vit":
        xtr, _, xte, yte = ti.fmnist_arrays()
        return ([[xtr[k * a.n:(k + 1) * a.n].numpy()] for k in range(a.sets)], [xte.numpy()], yte.numpy())
    yt = os.path.join(a.data, "bert_test_y.npy")
    if not os.path.exists(yt) or len(np.load(yt, mmap_mode="r")) != ti.BERT_N_TEST:
        ti.write_data(a.data)
    cals = [list(ti.bert_snippets("train", 512, 7 + 100 * k)[:2]) for k in range(a.sets)]
    test = [np.load(os.path.join(a.data, f"bert_test_{s}.npy")) for s in ("ids", "mask")]
    return cals, test, np.load(yt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="fmnist_vit", choices=sorted(ARCH))
    ap.add_argument("--cquant", default=os.path.join(ROOT, "build", "cquant"))
    ap.add_argument("--model")
    ap.add_argument("--data", help="issue 11's data (default: issue11_data next to the cquant binary)")
    ap.add_argument("--sets", type=int, default=5)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--method", default="minmax")
    a = ap.parse_args()
    a.model = a.model or os.path.join(ROOT, "models", ARCH[a.arch][0])
    a.data = a.data or os.path.join(os.path.dirname(os.path.abspath(a.cquant)), "issue11_data")
    names = ARCH[a.arch][1]
    torch.set_num_threads(2)
    cals, test, y = sets_of(a)
    b = pmb.Bench(argparse.Namespace(cquant=a.cquant))
    td = pmb.Data(b.tmp, "test", test, names, y)
    net = ti.MODELS[a.arch]()
    net.load_state_dict(torch.load(os.path.join(ROOT, "models", a.arch + ".pt")))
    net.eval()

    def run_torch(m):
        xs = [torch.from_numpy(t) for t in test]
        with torch.no_grad():
            return np.concatenate([m(*[x[i:i + pmb.CHUNK] for x in xs]).numpy() for i in range(0, len(y), pmb.CHUNK)])

    from torch.ao.quantization.quantize_fx import convert_fx
    f32, _ = b.run_cquant(a.model, td, "float")
    print(f"{a.arch}: fp32 (cquant's float executor) top-1 {pmb.metric('img', f32, y):.3f} on {len(y)} test samples")
    print(f"| calibration set | cquant int8 static ({a.method}) | agrees with fp32 | PyTorch FX static (onednn) | agrees with fp32 |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    for k, cal in enumerate(cals):
        paths = []
        for n, arr in zip(names, cal):
            paths += ["--calib", f"{n}={os.path.join(b.tmp, f'calib_{k}_{n}.npy')}"]
            np.save(paths[-1].split("=", 1)[1], arr)
        q = os.path.join(b.tmp, "q.onnx")
        rc, _, err, _ = pmb.sh([a.cquant, "ptq", a.model, *paths, "--act-method", a.method, "-o", q])
        if rc:
            sys.exit(f"cquant ptq failed: {pmb.first_error(err)}")
        c, _ = b.run_cquant(q, td, "int")
        fx = run_torch(convert_fx(pmb.fx_prepared(net, [torch.from_numpy(x) for x in cal])))
        rows.append((pmb.metric('img', c, y), pmb.agree(f32, c), pmb.metric('img', fx, y), pmb.agree(f32, fx)))  # top-1 of a classifier
        print("| {} | {:.3f} | {:.2f}% | {:.3f} | {:.2f}% |".format(k, *rows[-1]), flush=True)
    print("| mean | {:.3f} | {:.2f}% | {:.3f} | {:.2f}% |".format(*np.mean(rows, 0)))


if __name__ == "__main__":
    main()
