"""cquant.qat: numpy (batch, labels) tuples train as the CLI's data does; the result dict; errors
raise with the library's message and leave no file."""
import gzip
import os

import numpy as np
import pytest

import cquant
from conftest import MODELS

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
