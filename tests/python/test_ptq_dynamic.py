"""cquant.ptq(..., mode='dynamic') writes the same file byte for byte as `cquant ptq --mode dynamic`;
calibration data is refused there, required otherwise; the result says what was rewritten."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import cquant


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """x (n x 8) -> Gemm(transB) -> Relu -> MatMul -> y (n x 4)."""
    rng = np.random.default_rng(0)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1, name="fc1"), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), "w1"),
         numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b1"),
         numpy_helper.from_array(rng.standard_normal((16, 4)).astype(np.float32), "w2")])
    p = tmp_path_factory.mktemp("dyn") / "mlp.onnx"
    p.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    return p


def test_same_file_as_cli(cli, model, tmp_path):
    cli("ptq", model, "--mode", "dynamic", "-o", tmp_path / "cli.onnx")
    r = cquant.ptq(model, None, tmp_path / "py.onnx", mode="dynamic")
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    assert r["mode"] == "dynamic" and r["gemm"] == 1 and r["matmul"] == 1 and r["kept_float"] == 0 and r["dynamic_quantize_linear"] == 2
    assert r["output_bytes"] == (tmp_path / "py.onnx").stat().st_size
    x = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    y = cquant.run(str(tmp_path / "py.onnx"), {"x": x})
    assert y["y"].shape == (5, 4)


def test_calib_refused_and_required(model, tmp_path):
    batch = [np.zeros((2, 8), np.float32)]
    with pytest.raises(ValueError, match="no calibration data"):
        cquant.ptq(model, batch, tmp_path / "a.onnx", mode="dynamic")
    with pytest.raises(ValueError, match="calib data is needed"):
        cquant.ptq(model, None, tmp_path / "b.onnx")
    with pytest.raises(ValueError, match="mode must be"):
        cquant.ptq(model, None, tmp_path / "c.onnx", mode="dynamc")
    assert not list(tmp_path.iterdir())


def test_exclude_everything(model, tmp_path):
    with pytest.raises(Exception, match="no MatMul or Gemm"):
        cquant.ptq(model, None, tmp_path / "d.onnx", mode="dynamic", exclude=["fc1", "fc2"])
    assert not (tmp_path / "d.onnx").exists()


def test_reduce_range_same_file_as_cli(cli, model, tmp_path):
    """reduce_range=True (--reduce-range, eq. 11b): the same file as the CLI, weights in -63..63 with
    s = amax / 63 per output column; int4 weights refuse it."""
    cli("ptq", model, "--mode", "dynamic", "--reduce-range", "-o", tmp_path / "cli.onnx")
    cquant.ptq(model, None, tmp_path / "py.onnx", mode="dynamic", reduce_range=True)
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    import onnx
    m = onnx.load(str(tmp_path / "py.onnx"))
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    w8 = [v for v in init.values() if v.dtype == np.int8 and v.ndim == 2]
    assert w8 and all(np.abs(w).max() == 63 for w in w8)
    with pytest.raises(Exception, match="7 bits"):
        cquant.ptq(model, None, tmp_path / "b.onnx", mode="dynamic", weights="int4", reduce_range=True)
