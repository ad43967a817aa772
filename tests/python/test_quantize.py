"""quantize / dequantize / fake_quantize equal `cquant quantize|dequantize|fake-quant` bit for bit on
the PyTorch golden inputs (tests/golden/torch/manifest.json), and the given-scale cases equal PyTorch."""
import json

import numpy as np
import pytest

import cquant
from conftest import GOLDEN

MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
INPUTS = sorted({c["x"] for c in MANIFEST["cases"] if "x" in c})

# (python keyword options, the same as CLI options)
OPTIONS = [
    ({}, []),
    ({"dtype": "uint8"}, ["--dtype", "uint8"]),
    ({"dtype": "int8", "symmetric": False}, ["--asymmetric"]),
    ({"dtype": "int8", "narrow_range": True}, ["--narrow-range"]),
    ({"dtype": "int4"}, ["--dtype", "int4"]),
    ({"dtype": "uint4", "symmetric": True}, ["--dtype", "uint4", "--symmetric"]),
    ({"dtype": "int16", "rounding": "recip"}, ["--dtype", "int16", "--rounding", "recip"]),
    ({"dtype": "fp8e4m3"}, ["--dtype", "fp8e4m3"]),
    ({"axis": 0}, ["--per-channel", "0"]),
    ({"dtype": "uint8", "axis": -1}, ["--dtype", "uint8", "--per-channel", "LAST"]),
]


def identical(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("xname", INPUTS)
@pytest.mark.parametrize("opt", range(len(OPTIONS)))
def test_equals_cli(cli, tmp_path, xname, opt):
    kw, args = OPTIONS[opt]
    x = np.load(GOLDEN / xname)
    if x.ndim == 0 or x.size == 0 or (("axis" in kw) and x.ndim < 1):
        pytest.skip("scalar or empty input")
    args = [str(x.ndim - 1) if a == "LAST" else a for a in args]
    q, qp = cquant.quantize(x, **kw)
    cli("quantize", GOLDEN / xname, "-o", tmp_path / "q.npy", "--qparams", tmp_path / "qp.json", *args)
    assert identical(q, np.load(tmp_path / "q.npy"))
    ref = cquant.QParams.from_json((tmp_path / "qp.json").read_text())
    assert identical(qp.scale, ref.scale) and identical(qp.zero_point, ref.zero_point)
    assert json.loads(qp.to_json()) == json.loads((tmp_path / "qp.json").read_text())
    # dequantize with the parameters as Python made them and as the CLI wrote them
    y = cquant.dequantize(q, qp)
    cli("dequantize", tmp_path / "q.npy", "--qparams", tmp_path / "qp.json", "-o", tmp_path / "y.npy")
    assert identical(y, np.load(tmp_path / "y.npy"))
    assert identical(cquant.dequantize(q, ref), y)
    f = cquant.fake_quantize(x, **kw)
    cli("fake-quant", GOLDEN / xname, "-o", tmp_path / "f.npy", *args)
    assert identical(f, np.load(tmp_path / "f.npy"))




@pytest.mark.parametrize("case", [c for c in MANIFEST["cases"] if c["op"] == "quantize_per_tensor"], ids=lambda c: c["x"])
def test_given_scale_equals_torch(case):
    x = np.load(GOLDEN / case["x"])
    dtype = {"qint8": "int8", "quint8": "uint8", "qint32": "int32"}[case["dtype"]]
    q, qp = cquant.quantize(x, dtype=dtype, scale=case["scale"], zero_point=case["zero_point"], rounding="recip")
    ref = np.load(GOLDEN / case["q"])
    assert np.array_equal(q.astype(np.int64), ref.astype(np.int64))
    assert qp.scale.item() == np.float32(case["scale"]) and qp.zero_point.item() == case["zero_point"]


@pytest.mark.parametrize("case", [c for c in MANIFEST["cases"] if c["op"] == "fake_quantize_per_tensor_affine"], ids=lambda c: c["x"])
def test_fake_quantize_equals_torch(case):
    x = np.load(GOLDEN / case["x"])
    bits = {255: 8, 15: 4, 3: 2}[case["quant_max"] - case["quant_min"]]
    dtype = ("int" if case["quant_min"] < 0 else "uint") + str(bits)
    y = cquant.fake_quantize(x, dtype=dtype, scale=case["scale"], zero_point=case["zero_point"], rounding="recip")
    np.testing.assert_array_equal(y, np.load(GOLDEN / case["y"]))


def test_qparams_object():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 10
    q, qp = cquant.quantize(x, dtype="uint8", axis=1)
    assert q.dtype == np.uint8 and q.shape == x.shape
    assert qp.scale.shape == (1, 3, 1) and qp.scale.dtype == np.float32 and qp.zero_point.dtype == np.int32
    assert (qp.dtype, qp.axis, qp.group_size, qp.granularity, qp.shape) == ("uint8", 1, None, "per-channel", (2, 3, 4))
    q2, qg = cquant.quantize(x, dtype="int4", axis=2, group_size=2)
    assert (qg.axis, qg.group_size, qg.granularity) == (2, 2, "per-group") and qg.scale.shape == (2, 3, 2)
    back = cquant.QParams.from_json(qg.to_json())
    assert back.to_json() == qg.to_json()
    assert np.array_equal(cquant.dequantize(q2, back), cquant.dequantize(q2, qg))
    # given parameters are reused for another tensor (per-tensor ones fit any shape)
    _, qt = cquant.quantize(x)
    q3, qt3 = cquant.quantize(x[0] * 0.5, qp=qt)
    assert qt3.scale.item() == qt.scale.item()


def test_noncontiguous_and_float16():
    x = np.random.default_rng(1).standard_normal((8, 6)).astype(np.float32)
    q1, _ = cquant.quantize(x[:, ::2])
    q2, _ = cquant.quantize(np.ascontiguousarray(x[:, ::2]))
    assert np.array_equal(q1, q2)
    h = x.astype(np.float16)
    assert np.array_equal(cquant.quantize(h)[0], cquant.quantize(h.astype(np.float32))[0])
    qt, qp = cquant.quantize(x.T)  # Fortran order
    assert np.array_equal(qt, cquant.quantize(np.ascontiguousarray(x.T))[0])


def test_error_report():
    x = np.linspace(-1, 1, 101, dtype=np.float32)
    q, qp = cquant.quantize(x)
    y = cquant.dequantize(q, qp)
    r = cquant.error_report(x, y, qp)
    assert set(r) == {"n", "mse", "sqnr_db", "max_abs", "n_clipped", "clipped_share", "clip_mse", "round_mse", "has_split"}
    d = (x.astype(np.float64) - y) ** 2
    assert r["n"] == 101 and r["has_split"] and r["n_clipped"] == 0
    assert r["mse"] == pytest.approx(d.mean(), rel=1e-9)
    assert r["round_mse"] + r["clip_mse"] == pytest.approx(r["mse"])
    assert not cquant.error_report(x, y)["has_split"]
    assert cquant.error_report(x, x)["sqnr_db"] == float("inf")


def test_short_last_group_equals_cli(cli, tmp_path):
    """group_size that does not divide the axis: refused, unless short_last_group (the CLI's --short-last-group)."""
    x = np.random.default_rng(9).standard_normal((3, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(ValueError):
        cquant.quantize(x, dtype="int4", axis=1, group_size=4)
    q, qp = cquant.quantize(x, dtype="int4", axis=1, group_size=4, short_last_group=True)
    assert qp.scale.shape == (3, 3)
    cli("quantize", tmp_path / "x.npy", "-o", tmp_path / "q.npy", "--qparams", tmp_path / "qp.json", "--dtype", "int4",
        "--per-group", "1:4", "--short-last-group")
    assert identical(q, np.load(tmp_path / "q.npy"))
    assert json.loads(qp.to_json()) == json.loads((tmp_path / "qp.json").read_text())
