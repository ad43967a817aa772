"""cquant.ptq's placement keywords: quantize_act_matmul, quantize_ops and overrides (a JSON path)
change the written file and the report as `cquant ptq` does; bad ones raise with the node named and
write nothing."""
import json
import os

import numpy as np
import onnx
import pytest

import cquant
from conftest import MODELS

MODEL = MODELS / "fmnist_vit_op17.onnx"


@pytest.fixture(scope="module")
def batches():
    if not MODEL.exists():
        pytest.skip("models/fmnist_vit_op17.onnx missing")
    rng = np.random.default_rng(0)
    return [rng.standard_normal((16, 1, 28, 28)).astype(np.float32) for _ in range(2)]


def dq_inputs(path, node):
    m = onnx.load(str(path))
    prod = {o: n for n in m.graph.node for o in n.output}
    n = next(n for n in m.graph.node if n.name == node)
    return [i in prod and prod[i].op_type == "DequantizeLinear" for i in n.input]


def test_placement_keywords(batches, tmp_path):
    on, off, ops = tmp_path / "on.onnx", tmp_path / "off.onnx", tmp_path / "ops.onnx"
    cquant.ptq(MODEL, batches, on)
    cquant.ptq(MODEL, batches, off, quantize_act_matmul=False)
    assert dq_inputs(on, "/blocks.0/attn/MatMul_1") == [True, True]
    assert dq_inputs(off, "/blocks.0/attn/MatMul_1")[0] is False  # the Softmax output stays float
    rep = cquant.ptq(MODEL, batches, ops, quantize_ops="LayerNormalization,Softmax")
    assert dq_inputs(ops, "/blocks.0/ln1/LayerNormalization")[0] is True
    by = {layer["node"]: layer for layer in rep["layers"]}
    assert by["/blocks.0/attn/Softmax"]["activation"]["method"] == "fixed"
    assert by["/blocks.0/attn/Softmax"]["activation"]["scale"] == 1 / 256


def test_overrides_path(batches, tmp_path):
    ov = tmp_path / "ov.json"
    ov.write_text(json.dumps({"nodes": {"/blocks.0/fc1/MatMul": {"weights": "int4", "group": 32},
                                        "/embed/Conv": {"exclude": True},
                                        "/blocks.0/fc2/MatMul": {"act_method": "percentile", "percentile": 99.9}}}))
    rep = cquant.ptq(MODEL, batches, tmp_path / "o.onnx", overrides=ov)
    by = {layer["node"]: layer for layer in rep["layers"]}
    assert by["/blocks.0/fc1/MatMul"]["weights"]["dtype"] == "int4" and by["/blocks.0/fc1/MatMul"]["weights"]["group_size"] == 32
    assert by["/embed/Conv"]["excluded"] is True and by["/embed/Conv"]["override"] is True
    assert by["/blocks.0/fc2/MatMul"]["activation"]["method"] == "percentile"
    assert by["/blocks.0/fc2/MatMul"]["activation"]["method_param"] == pytest.approx(99.9)
    assert by["/blocks.0/fc1/MatMul"]["activation"]["method"] == "minmax"
    ov.write_text('{"nodes": {"/no/such/node": {"exclude": true}}}')
    with pytest.raises(ValueError, match="/no/such/node"):
        cquant.ptq(MODEL, batches, tmp_path / "bad.onnx", overrides=ov)
    assert not (tmp_path / "bad.onnx").exists()
    with pytest.raises(ValueError, match="Nope"):
        cquant.ptq(MODEL, batches, tmp_path / "bad.onnx", quantize_ops="Nope")
    with pytest.raises(OSError):
        cquant.ptq(MODEL, batches, tmp_path / "bad.onnx", overrides=tmp_path / "none.json")
