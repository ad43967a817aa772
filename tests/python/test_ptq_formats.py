"""cquant.ptq's weight formats (uint4, int2, fp8, per group, packed int4, weight-only), its image-folder
preprocessing options and named multi-input sources write the same file byte for byte as the CLI
given the same options."""
import sys

import numpy as np
import pytest

import cquant
from conftest import MODELS, SOURCE_DIR

sys.path.insert(0, str(SOURCE_DIR / "tests"))
from made_files import png_bytes  # noqa: E402

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

MODEL = MODELS / "fmnist_cnn.onnx"

FORMATS = [
    ({"weights": "uint4", "weight_granularity": "group:32"}, ["--weights", "uint4", "--weight-granularity", "group:32"]),
    ({"weights": "int4", "pack_int4": True}, ["--weights", "int4", "--pack-int4"]),
    ({"weights": "int4", "weight_granularity": 64, "act": "none"}, ["--weights", "int4", "--weight-granularity", "group:64", "--act", "none"]),
    ({"weights": "int2"}, ["--weights", "int2"]),
    ({"weights": "fp8e4m3", "act": "fp8e4m3"}, ["--weights", "fp8e4m3", "--act", "fp8e4m3"]),
]


@pytest.fixture(scope="module")
def npy(tmp_path_factory):
    if not MODEL.exists():
        pytest.skip("models/fmnist_cnn.onnx missing")
    d = tmp_path_factory.mktemp("fmt")
    rng = np.random.default_rng(3)
    np.save(d / "x.npy", rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    return d / "x.npy"


@pytest.mark.parametrize("case", range(len(FORMATS)))
def test_weight_formats_equal_cli(cli, tmp_path, npy, case):
    kw, args = FORMATS[case]
    cquant.ptq(str(MODEL), str(npy), tmp_path / "py.onnx", batch=32, **kw)
    cli("ptq", MODEL, "--calib", npy, "-o", tmp_path / "cli.onnx", "--batch", "32", *args)
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()


def test_format_errors(tmp_path, npy):
    with pytest.raises(ValueError, match="weight_granularity"):
        cquant.ptq(str(MODEL), str(npy), tmp_path / "a.onnx", weight_granularity="group:8")
    with pytest.raises(ValueError, match="act must be"):
        cquant.ptq(str(MODEL), str(npy), tmp_path / "a.onnx", act="int4")
    with pytest.raises(ValueError, match="QLinear operator format"):  # the library refuses before calibrating
        cquant.ptq(str(MODEL), str(npy), tmp_path / "a.onnx", weights="uint4", format="qop")
    assert not (tmp_path / "a.onnx").exists()


def test_image_folder_options_equal_cli(cli, tmp_path):
    """RGB PNGs of mixed sizes, resized (shorter side), center-cropped, BGR, NHWC, per-channel mean/std."""
    rng = np.random.default_rng(5)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, (h, w) in enumerate([(20, 24), (24, 20), (30, 30), (18, 26)] * 2):
        (folder / f"im{i}.png").write_bytes(png_bytes(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)))
    g = helper.make_graph(
        [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
         helper.make_node("Conv", ["t", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"), helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("GlobalAveragePool", ["r"], ["gp"]), helper.make_node("Flatten", ["gp"], ["f"]),
         helper.make_node("Gemm", ["f", "wf"], ["logits"], transB=1, name="fc")],
        "img", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16, 16, 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array((rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32), "w"),
         numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "wf")])
    model = tmp_path / "nhwc.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(model))
    opts = dict(resize=18, crop=(16, 16), channel_order="bgr", layout="nhwc", mean=(0.4, 0.45, 0.5), std=(0.2, 0.25, 0.3), batch=3)
    rep = cquant.ptq(str(model), str(folder), tmp_path / "py.onnx", **opts)
    assert rep["calib_samples"] == 8
    cli("ptq", model, "--calib", folder, "-o", tmp_path / "cli.onnx", "--resize", "18", "--crop", "16x16", "--channel-order", "bgr",
        "--layout", "nhwc", "--mean", "0.4,0.45,0.5", "--std", "0.2,0.25,0.3", "--batch", "3")
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    # the options change what is read: without the crop the mixed sizes are refused
    with pytest.raises(ValueError):
        cquant.ptq(str(model), str(folder), tmp_path / "bad.onnx", layout="nhwc")
    assert not (tmp_path / "bad.onnx").exists()
    with pytest.raises(ValueError, match="layout"):
        cquant.ptq(str(model), str(folder), tmp_path / "bad.onnx", layout="nchwc")


def test_named_inputs_equal_cli(cli, tmp_path):
    """A two-input model: calib={name: file} is the CLI's --calib NAME=FILE for each input."""
    rng = np.random.default_rng(6)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["a", "W"], ["p"], name="mm"), helper.make_node("Add", ["p", "b"], ["y"], name="add")],
        "two", [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 8]), helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "W")])
    model = tmp_path / "two.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(model))
    np.save(tmp_path / "a.npy", rng.standard_normal((40, 8)).astype(np.float32))
    np.save(tmp_path / "b.npy", (5 * rng.standard_normal((40, 4))).astype(np.float32))
    rep = cquant.ptq(str(model), {"a": str(tmp_path / "a.npy"), "b": str(tmp_path / "b.npy")}, tmp_path / "py.onnx", batch=10)
    assert rep["calib_samples"] == 40
    cli("ptq", model, "--calib", f"a={tmp_path / 'a.npy'}", "--calib", f"b={tmp_path / 'b.npy'}", "-o", tmp_path / "cli.onnx", "--batch", "10")
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    with pytest.raises(ValueError, match="zz"):
        cquant.ptq(str(model), {"a": str(tmp_path / "a.npy"), "zz": str(tmp_path / "b.npy")}, tmp_path / "bad.onnx", batch=10)
