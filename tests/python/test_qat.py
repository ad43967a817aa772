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


def weight_ratios(path, bits):
    """r_c = s_c Q / max|w_c| of the exported weights of fmnist_cnn's Conv/Gemm layers"""
    import onnx
    from onnx import numpy_helper
    f = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(MODEL)).graph.initializer}
    m = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    dq = {n.output[0]: n for n in m.graph.node if n.op_type == "DequantizeLinear"}
    layers = [n for n in m.graph.node if n.op_type in ("Conv", "Gemm")]
    r = []
    for n, name in zip(layers, ("conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight")):
        amax = np.abs(f[name]).reshape(f[name].shape[0], -1).max(axis=1)
        r.append(inits[dq[n.input[1]].input[1]].astype(np.float64) * (2 ** (bits - 1) - 1) / amax)
    return np.concatenate(r)


def test_qat_weight_clip(tmp_path):
    # one step at a negligible rate: the exported scales are the initial ones (docs/qat.md section 2)
    x, y = images(n=64)
    for clip, bits, clipped in (("max", "int2", False), ("auto", "int2", True), ("auto", "int4", False), ("mse", "int4", True)):
        out = tmp_path / f"{clip}_{bits}.onnx"
        cquant.qat(str(MODEL), [(x, y)], str(out), weights=bits, act="float", lr=1e-12, max_steps=1, threads=1, weight_clip=clip)
        r = weight_ratios(out, int(bits[3:]))
        assert np.all(r > 0.3 - 1e-5) and np.all(r < 1 + 1e-5)
        assert np.any(r < 0.98) if clipped else np.allclose(r, 1, atol=1e-5), (clip, bits, r.min())
    with pytest.raises(ValueError, match="weight_clip must be"):
        cquant.qat(str(MODEL), [(x, y)], str(tmp_path / "q.onnx"), weight_clip="min")
