"""cquant.qat: numpy (batch, labels) tuples train as the CLI's data does; the result dict; errors
raise with the library's message and leave no file."""
import gzip
import os
import sys

import numpy as np
import pytest

import cquant
from conftest import MODELS, SOURCE_DIR

sys.path.insert(0, str(SOURCE_DIR / "tests"))
from made_files import weight_clip_ratios  # noqa: E402

MODEL = MODELS / "fmnist_cnn.onnx"
DATASET = "/usr/share/datasets/fashion-mnist"
MEAN, STD = np.float32(0.286), np.float32(0.353)


def images(split="train", n=640):
    p = f"{DATASET}/{'train' if split == 'train' else 't10k'}"
    with gzip.open(f"{p}-images-idx3-ubyte.gz") as f:
        im = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 1, 28, 28)
    with gzip.open(f"{p}-labels-idx1-ubyte.gz") as f:
        lb = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
    return (im.astype(np.float32) / np.float32(255) - MEAN) / STD, lb


def test_qat_numpy_batches(tmp_path):
    x, y = images()
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, len(x), 64)]
    out = tmp_path / "q.onnx"
    r = cquant.qat(str(MODEL), batches, str(out), weights="int4", epochs=1, lr=1e-4, batch=64, threads=1, eval="fashion-mnist:test:500")
    assert out.exists() and out.stat().st_size > 100000
    assert r["steps"] == 10 and r["samples"] == 640
    assert r["eval_top1"] > 85.0 and np.isfinite(r["loss"])


def test_qat_errors(tmp_path):
    x, _ = images(n=64)
    out = tmp_path / "q.onnx"
    with pytest.raises(ValueError, match="no labels"):
        cquant.qat(str(MODEL), [x], str(out))
    with pytest.raises(ValueError, match="label 12"):
        cquant.qat(str(MODEL), [(x, np.full(64, 12, np.int64))], str(out))
    with pytest.raises(ValueError, match="weights must be"):
        cquant.qat(str(MODEL), [(x, np.zeros(64, np.int64))], str(out), weights="int3")
    assert not out.exists()


def test_qat_weight_clip(tmp_path):
    # one step at a negligible rate: the exported scales are the initial ones (docs/qat.md section 2)
    x, y = images(n=64)
    for clip, bits, clipped in (("max", "int2", False), ("auto", "int2", True), ("auto", "int4", False), ("mse", "int4", True)):
        out = tmp_path / f"{clip}_{bits}.onnx"
        cquant.qat(str(MODEL), [(x, y)], str(out), weights=bits, act="float", lr=1e-12, max_steps=1, threads=1, weight_clip=clip)
        r = weight_clip_ratios(MODEL, out, int(bits[3:]))
        assert r is not None
        assert np.all(r > 0.3 - 1e-5) and np.all(r < 1 + 1e-5)
        assert np.any(r < 0.98) if clipped else np.allclose(r, 1, atol=1e-5), (clip, bits, r.min())
    with pytest.raises(ValueError, match="weight_clip must be"):
        cquant.qat(str(MODEL), [(x, y)], str(tmp_path / "q.onnx"), weight_clip="min")
