"""Bad arguments raise the right exception with the library's message, never crash."""
import numpy as np
import pytest

import cquant

X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6)


@pytest.mark.parametrize("bad", [None, "text", np.zeros(3, np.float64), np.zeros(3, np.int8), [1.0, 2.0]])
def test_wrong_input_types(bad):
    with pytest.raises(TypeError):
        cquant.quantize(bad)
    with pytest.raises(TypeError):
        cquant.fake_quantize(bad)


@pytest.mark.parametrize("kw", [
    {"dtype": "int9"}, {"dtype": "float32"}, {"axis": 2}, {"axis": -3}, {"group_size": 2},
    {"axis": 1, "group_size": 4}, {"axis": 1, "group_size": 0}, {"rounding": "up"},
    {"dtype": "uint8", "narrow_range": True}, {"scale": 0.0}, {"scale": float("inf")},
    {"zero_point": 3}, {"scale": 0.1, "zero_point": 300}, {"scale": 0.1, "axis": 0},
])
def test_bad_options(kw):
    with pytest.raises(ValueError) as e:
        cquant.quantize(X, **kw)
    assert str(e.value)


def test_messages_carry_the_library_detail():
    with pytest.raises(ValueError, match="int9"):
        cquant.quantize(X, dtype="int9")
    with pytest.raises(ValueError, match="not finite|NaN|infinity"):
        cquant.quantize(np.array([1.0, np.nan], np.float32))
    with pytest.raises(TypeError):
        cquant.quantize(X, axis="zero")
    with pytest.raises(TypeError):
        cquant.quantize(X, qp="not qparams")


def test_dequantize_errors():
    q, qp = cquant.quantize(X)
    with pytest.raises(TypeError):
        cquant.dequantize(q.astype(np.int16), qp)
    with pytest.raises(ValueError):
        cquant.dequantize(q.reshape(6, 4), qp)
    with pytest.raises(TypeError):
        cquant.dequantize(q, None)
    with pytest.raises(TypeError):
        cquant.dequantize(None, qp)
    q16, qp16 = cquant.quantize(X, dtype="int4")
    q16[0, 0] = 100  # outside int4
    with pytest.raises(ValueError):
        cquant.dequantize(q16, qp16)
    # a non-contiguous q is copied, not refused
    qq, qqp = cquant.quantize(X.T)
    assert np.array_equal(cquant.dequantize(qq.T.T, qqp), cquant.dequantize(np.asfortranarray(qq), qqp))


def test_json_errors():
    with pytest.raises(RuntimeError):  # BAD_FORMAT
        cquant.QParams.from_json("{}")
    with pytest.raises(RuntimeError):
        cquant.QParams.from_json("not json")
    with pytest.raises(TypeError):
        cquant.QParams.from_json(3)


def test_error_report_errors():
    with pytest.raises(ValueError):
        cquant.error_report(X, X[:2])
    with pytest.raises(TypeError):
        cquant.error_report(X, None)
    with pytest.raises(TypeError):
        cquant.error_report(X, X, qp=1)
    _, qp = cquant.quantize(X, axis=1)
    with pytest.raises(ValueError):
        cquant.error_report(X.ravel(), X.ravel(), qp)  # per-channel parameters do not fit a 1-d tensor
