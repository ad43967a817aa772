#!/usr/bin/python3
"""The committed issue 11 models (models/train_issue11.py: ViT-style and MobileNetV3-style Fashion-MNIST
classifiers at opsets 13 and 17, the character-level LM, the BERT-style classifier) load in cquant and
its float executor agrees with ONNX Runtime on them: every logit within 1e-4 of the largest |logit|
and the same argmax for at least 99% of the predictions. Inputs: the first 64 Fashion-MNIST test
images (normalised with the model's cquant.mean/std metadata), int64 character ids of this file's own
text for the LM, byte snippets of this file with padding (mask 0) for the BERT model. Also checks what
the bench relies on: opset, input names and element types, output shape, size under 2 MB. The ONNX
Runtime comparison is skipped (the rest still runs) without onnxruntime-node.

usage: issue11_models_test.py PATH/TO/cquant
"""
import gzip
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx

CQ = os.path.abspath(sys.argv[1])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MD = os.path.join(ROOT, "models")
HAVE_ORT = os.path.isdir(os.path.join(ROOT, "tools/ort/node_modules/onnxruntime-node")) and shutil.which("node")
CHARS = "\t\n" + "".join(chr(c) for c in range(32, 127))  # models/train_issue11.py's character table
tmp = tempfile.mkdtemp(prefix="cquant_i11_test.")
failed = 0


def fail(msg):
    global failed
    failed += 1
    print("FAIL " + msg)


def images(m, n=64):
    meta = {p.key: p.value for p in m.metadata_props}
    with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "rb") as f:
        b = f.read(16 + 784 * n)
    x = np.frombuffer(b, np.uint8, offset=16).reshape(n, 1, 28, 28).astype(np.float32) / 255.0
    return {"input": ((x - float(meta["cquant.mean"])) / float(meta["cquant.std"])).astype(np.float32)}


def own_text():
    with open(__file__, "rb") as f:
        return f.read()


def lm_ids(n=16, t=64):
    table = np.zeros(256, np.int64)
    for i, c in enumerate(CHARS):
        table[ord(c)] = i + 1
    b = np.frombuffer(own_text(), np.uint8)
    return {"ids": np.stack([table[b[i * 97:i * 97 + t]] for i in range(n)])}


def bert_inputs(n=32, t=65):
    b = np.frombuffer(own_text(), np.uint8)
    ids, mask = np.zeros((n, t), np.int64), np.zeros((n, t), np.int64)
    for i in range(n):
        ln = 8 + (i * 7) % 57
        ids[i, 0], ids[i, 1:1 + ln], mask[i, :1 + ln] = 1, b[i * 61:i * 61 + ln].astype(np.int64) + 2, 1
    return {"input_ids": ids, "attention_mask": mask}


CASES = [("fmnist_vit_op13.onnx", 13, images, 10), ("fmnist_vit_op17.onnx", 17, images, 10),
         ("fmnist_mbv3_op13.onnx", 13, images, 10), ("fmnist_mbv3_op17.onnx", 17, images, 10),
         ("pystdlib_lm.onnx", 17, lambda m: lm_ids(), 98), ("codelang_bert.onnx", 17, lambda m: bert_inputs(), 4)]

for fn, opset, make, classes in CASES:
    path = os.path.join(MD, fn)
    if not os.path.exists(path):
        fail(f"{fn}: missing (models/train_issue11.py writes it)")
        continue
    m = onnx.load(path)
    if os.path.getsize(path) > 2 << 20:
        fail(f"{fn}: {os.path.getsize(path)} bytes, over 2 MB")
    if m.opset_import[0].version != opset:
        fail(f"{fn}: opset {m.opset_import[0].version}, expected {opset}")
    feeds = make(m)
    names = [i.name for i in m.graph.input]
    if names != list(feeds):
        fail(f"{fn}: inputs {names}, expected {list(feeds)}")
        continue
    args = []
    for k, v in feeds.items():
        p = os.path.join(tmp, f"{fn}_{k}.npy")
        np.save(p, v)
        args.append((k, p))
    cqo, orto = os.path.join(tmp, fn + "_cq"), os.path.join(tmp, fn + "_ort")
    os.makedirs(cqo), os.makedirs(orto)
    r = subprocess.run([CQ, "run", path, "--exec", "float", "--output-dir", cqo] + sum((["--input", f"{k}={p}"] for k, p in args), []),
                       capture_output=True, text=True)
    if r.returncode:
        fail(f"{fn}: cquant run: {r.stderr.strip()}")
        continue
    got = np.load(os.path.join(cqo, "logits.npy"))
    n = len(next(iter(feeds.values())))
    want_shape = (n, 64, classes) if classes == 98 else (n, classes)
    if got.shape != want_shape or not np.isfinite(got).all():
        fail(f"{fn}: cquant output {got.shape} (expected {want_shape}), finite: {np.isfinite(got).all()}")
        continue
    if not HAVE_ORT:
        print(f"ok   {fn}: loads and runs in cquant (ONNX Runtime comparison skipped: onnxruntime-node missing)")
        continue
    r = subprocess.run(["node", os.path.join(ROOT, "tools/ort/run.js"), path, orto] + [f"{k}={p}" for k, p in args], capture_output=True, text=True)
    if r.returncode:
        fail(f"{fn}: ONNX Runtime: {r.stderr.strip()}")
        continue
    ref = np.load(os.path.join(orto, "logits.npy"))
    err = float(np.abs(got - ref).max() / np.abs(ref).max())
    same = 100.0 * float((got.argmax(-1) == ref.argmax(-1)).mean())
    line = f"{fn}: max |cquant - ORT| / max |ORT| = {err:.2e}, same argmax {same:.2f}%"
    if err > 1e-4 or same < 99.0:
        fail(line)
    else:
        print("ok   " + line)

print(f"{len(CASES) - failed} of {len(CASES)} models passed" if not failed else f"{failed} failure(s)")
sys.exit(1 if failed else 0)
