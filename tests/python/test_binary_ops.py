"""The binary operator family (src/exec/ops/binary*.c) against numpy, for the element types and
forms ONNX's backend suite does not cover: every integer width (wrapping arithmetic, Div truncating
toward zero, Mod with the divisor's sign or C's), broadcasting of every shape pattern (also past
the threading threshold), variadic Max/Min/Sum/Mean, Pow of mixed types, Cast between every pair
of numpy types, the opset < 7 broadcast/axis attributes, and the errors of bad input."""
import numpy as np
import pytest

import cquant

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

NP2ONNX = {np.float32: 1, np.uint8: 2, np.int8: 3, np.uint16: 4, np.int16: 5, np.int32: 6, np.int64: 7, np.bool_: 9,
           np.float16: 10, np.float64: 11, np.uint32: 12, np.uint64: 13}
INTS = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
FLOATS = [np.float16, np.float32, np.float64]
SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((2, 3, 4), ()), ((2, 3, 4), (3, 1)), ((3, 1), (1, 5)),
          ((1,), (2, 3, 4)), ((2, 1, 4, 1), (3, 1, 5)), ((0, 3), (1, 3))]


@pytest.fixture
def run(tmp_path):
    """run(op, inputs, out_dtype, attrs, opset) -> the output of a one-node model."""
    def go(op, inputs, out_dtype, attrs=None, opset=17):
        ins = [helper.make_tensor_value_info(f"x{i}", NP2ONNX[a.dtype.type], a.shape) for i, a in enumerate(inputs)]
        out = helper.make_tensor_value_info("y", NP2ONNX[np.dtype(out_dtype).type], None)
        node = helper.make_node(op, [f"x{i}" for i in range(len(inputs))], ["y"], **(attrs or {}))
        m = helper.make_model(helper.make_graph([node], "g", ins, [out]), opset_imports=[helper.make_opsetid("", opset)])
        p = tmp_path / "m.onnx"
        onnx.save(m, str(p))
        return cquant.run(str(p), {f"x{i}": a for i, a in enumerate(inputs)}, exec="float")["y"]
    return go


def gen(rng, dt, shape, nonzero=False, small=False):
    if np.dtype(dt).kind == "f":
        a = np.asarray(rng.standard_normal(shape) * 10).astype(dt)
    elif dt == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    else:
        info = np.iinfo(dt)
        lo, hi = (max(info.min, -20), min(info.max, 20)) if small else (info.min, info.max)
        a = np.asarray(rng.integers(lo, hi, shape, dtype=dt, endpoint=True))
    if nonzero:
        a[a == 0] = 1
    return a


def same(got, want):
    want = np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype, got.shape, want.shape)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-3, atol=1e-7, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def trunc_div(a, b):
    q = np.abs(a.astype(np.float64)) // np.abs(b.astype(np.float64))
    return np.sign(a.astype(np.float64)) * np.sign(b.astype(np.float64)) * q


@pytest.mark.parametrize("dt", INTS + FLOATS, ids=lambda t: t.__name__)
def test_arithmetic_and_comparison(run, dt):
    rng = np.random.default_rng(1)
    with np.errstate(all="ignore"):
        for sa, sb in SHAPES:
            a, b = gen(rng, dt, sa), gen(rng, dt, sb, nonzero=True)
            same(run("Add", [a, b], dt), a + b)
            same(run("Sub", [a, b], dt), a - b)
            same(run("Mul", [a, b], dt), a * b)
            same(run("Max", [a, b], dt), np.maximum(a, b))
            same(run("Min", [a, b], dt), np.minimum(a, b))
            same(run("Mod", [a, b], dt, {"fmod": 1}), np.fmod(a, b))
            same(run("Mod", [a, b], dt, {"fmod": 0}), np.mod(a, b))
            if np.dtype(dt).kind == "f":
                same(run("Div", [a, b], dt), a / b)
            else:
                a2, b2 = gen(rng, dt, sa, small=True), gen(rng, dt, sb, nonzero=True, small=True)
                same(run("Div", [a2, b2], dt), trunc_div(a2, b2).astype(dt))
                for op, f in [("BitwiseAnd", np.bitwise_and), ("BitwiseOr", np.bitwise_or), ("BitwiseXor", np.bitwise_xor)]:
                    same(run(op, [a, b], dt, opset=18), f(a, b))
            for op, f in [("Equal", np.equal), ("Less", np.less), ("Greater", np.greater), ("LessOrEqual", np.less_equal),
                          ("GreaterOrEqual", np.greater_equal)]:
                same(run(op, [a, b], np.bool_), f(a, b))
            c = gen(rng, np.bool_, sb)
            same(run("Where", [c, a, b], dt), np.where(c, a, b))
        a, b, c = gen(rng, dt, (2, 1, 4)), gen(rng, dt, (3, 1)), gen(rng, dt, (4,))
        wide = (a.astype(np.float64) + b + c) if np.dtype(dt).kind == "f" else None
        same(run("Sum", [a, b, c], dt), wide.astype(dt) if wide is not None else a + b + c)
        same(run("Max", [a, b, c], dt), np.maximum(np.maximum(a, b), c))
        same(run("Min", [a], dt), a)
        if wide is not None:
            same(run("Mean", [a, b, c], dt), (wide / 3).astype(dt))


def test_nan_propagates_through_max_and_min(run):
    a = np.array([1, np.nan, 3, np.nan], np.float32)
    b = np.array([np.nan, 2, 1, np.nan], np.float32)
    same(run("Max", [a, b], np.float32), np.maximum(a, b))
    same(run("Min", [a, b], np.float32), np.minimum(a, b))
    same(run("Max", [a.astype(np.float16), b.astype(np.float16)], np.float16), np.maximum(a, b).astype(np.float16))


def test_where_masking_patterns(run):
    rng = np.random.default_rng(8)
    for dt in [np.float32, np.float16, np.int64, np.int8, np.bool_]:
        for sc, sx, sy in [((2, 1, 5, 5), (2, 3, 5, 5), ()), ((1, 1, 5, 5), (), (2, 3, 5, 5)), ((5, 5), (5, 5), (5, 5)),
                           ((3, 1), (1, 4), (3, 4)), ((), (2, 2), (1,))]:
            c, x, y = gen(rng, np.bool_, sc), gen(rng, dt, sx), gen(rng, dt, sy)
            same(run("Where", [c, x, y], dt), np.where(c, x, y))


def test_logic_and_shifts(run):
    rng = np.random.default_rng(2)
    for op, f in [("And", np.logical_and), ("Or", np.logical_or), ("Xor", np.logical_xor)]:
        for sa, sb in SHAPES:
            a, b = gen(rng, np.bool_, sa), gen(rng, np.bool_, sb)
            same(run(op, [a, b], np.bool_), f(a, b))
    for dt in [np.uint8, np.uint16, np.uint32, np.uint64]:
        bits = np.dtype(dt).itemsize * 8
        a, b = gen(rng, dt, (20,)), rng.integers(0, bits + 3, (20,)).astype(dt)
        k = np.minimum(b, bits - 1)
        same(run("BitShift", [a, b], dt, {"direction": "LEFT"}), np.where(b >= bits, 0, np.left_shift(a, k)).astype(dt))
        same(run("BitShift", [a, b], dt, {"direction": "RIGHT"}), np.where(b >= bits, 0, np.right_shift(a, k)).astype(dt))


def test_pow_mixed_types(run):
    rng = np.random.default_rng(3)
    for ta in [np.int32, np.int64, np.float16, np.float32, np.float64]:
        for tb in INTS + FLOATS:
            a = gen(rng, ta, (3, 4), small=True) if np.dtype(ta).kind != "f" else (rng.random((3, 4)) * 4).astype(ta)
            b = rng.integers(0, 5, (4,)).astype(tb)
            want = np.power(a.astype(np.float64), b.astype(np.float64))
            same(run("Pow", [a, b], ta, opset=15), want.astype(ta) if np.dtype(ta).kind == "f" else np.trunc(want).astype(ta))
    a, b = np.array([2, -2, 3, 1, -1, 0], np.int64), np.array([-1, 3, 40, -5, -3, 0], np.int64)
    same(run("Pow", [a, b], np.int64), np.array([0, -8, 3 ** 40 % 2 ** 64 - 2 ** 64, 1, -1, 1], np.int64))
    x = rng.standard_normal(100).astype(np.float32)
    same(run("Pow", [x, np.array(2.0, np.float32)], np.float32), x * x)
    same(run("Pow", [np.abs(x), np.array(0.5, np.float32)], np.float32), np.sqrt(np.abs(x)))


def test_cast_every_pair(run):
    rng = np.random.default_rng(4)
    for tf in INTS + FLOATS + [np.bool_]:
        for tt in INTS + FLOATS + [np.bool_]:
            if np.dtype(tf).kind == "f":
                x = (rng.standard_normal(50) * 50).astype(tf)
                if np.dtype(tt).kind == "u":
                    x = np.abs(x)
                if np.dtype(tt).kind in "iu":
                    info = np.iinfo(tt)
                    x = np.clip(x, max(info.min, -60000), min(info.max, 60000)).astype(tf)
            else:
                x = gen(rng, tf, (50,), small=True)
                if np.dtype(tt).kind == "u" and tf != np.bool_:
                    x = np.abs(x.astype(np.int64)).astype(tf)
            same(run("Cast", [x], tt, {"to": NP2ONNX[tt]}), x.astype(tt))
            same(run("CastLike", [x, np.zeros(1, tt)], tt, opset=15), x.astype(tt))


def test_cast_rounds_once(run):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(20000) * 100
    np.testing.assert_array_equal(run("Cast", [x], np.float16, {"to": 10}).view(np.uint16), x.astype(np.float16).view(np.uint16))
    xu = rng.integers(0, 2 ** 64 - 1, 2000, dtype=np.uint64)
    np.testing.assert_array_equal(run("Cast", [xu], np.float32, {"to": 1}), xu.astype(np.float32))
    special = np.array([np.nan, -np.inf, np.inf, 0.0, -0.0, 2.5, -2.5], np.float32)
    same(run("Cast", [special], np.bool_, {"to": 9}), special.astype(bool))
    wide = np.array([1e10, -1e10, 70000, -70000, 300, -300, 127.9, -128.9])
    same(run("Cast", [wide], np.int8, {"to": 3}), wide.astype(np.int64).astype(np.int8))  # through int64, wrapping
    same(run("Cast", [np.arange(5, dtype=np.float32)], np.int32, {"to": "INT32"}, opset=1), np.arange(5, dtype=np.int32))


def test_legacy_broadcast_attributes(run):
    rng = np.random.default_rng(6)
    a = gen(rng, np.float32, (2, 3, 4, 5))
    b = gen(rng, np.float32, (3, 4))
    same(run("Add", [a, b], np.float32, {"broadcast": 1, "axis": 1}, opset=6), a + b.reshape(1, 3, 4, 1))
    b = gen(rng, np.float32, (4, 5))
    same(run("Mul", [a, b], np.float32, {"broadcast": 1}, opset=6), a * b)
    b = gen(rng, np.float32, (2,))
    same(run("Sub", [a, b], np.float32, {"broadcast": 1, "axis": 0}, opset=6), a - b.reshape(2, 1, 1, 1))
    with pytest.raises(Exception, match="broadcast is 0"):
        run("Add", [a, b], np.float32, opset=6)


@pytest.mark.parametrize("sa,sb", [((3, 7, 97, 101), (7, 1, 101)), ((300001,), ()), ((5, 1, 333, 97), (1, 3, 333, 1))])
def test_large_outputs_split_over_threads(run, sa, sb):
    rng = np.random.default_rng(7)
    for dt in [np.float32, np.int64, np.float16]:
        a, b = gen(rng, dt, sa), gen(rng, dt, sb)
        same(run("Add", [a, b], dt), a + b)
        same(run("Max", [a, b, b], dt), np.maximum(a, b))
        c = gen(rng, np.bool_, sb)
        same(run("Where", [c, a, b], dt), np.where(c, a, b))


@pytest.mark.parametrize("op,inputs,attrs,message", [
    ("Div", [np.array([1, 2], np.int32), np.array([1, 0], np.int32)], {}, "integer division by zero"),
    ("Mod", [np.array([1, 2], np.int64), np.array([0], np.int64)], {}, "integer division by zero"),
    ("Add", [np.ones(3, np.float32), np.ones(3, np.int32)], {}, "types must match"),
    ("Add", [np.ones((2, 3), np.float32), np.ones(4, np.float32)], {}, "do not broadcast"),
    ("Less", [np.ones((2, 3), np.float16), np.ones(4, np.float16)], {}, "do not broadcast"),
    ("Add", [np.ones(3, bool), np.ones(3, bool)], {}, "bool tensors are not supported"),
    ("Where", [np.ones(3, np.float32)] * 3, {}, "condition must be bool"),
    ("BitShift", [np.ones(3, np.uint8)] * 2, {"direction": "UP"}, "LEFT or RIGHT"),
    ("BitShift", [np.ones(3, np.int8)] * 2, {"direction": "LEFT"}, "int8 tensors are not supported"),
    ("Cast", [np.ones(3, np.float32)], {"to": 8}, "string tensors"),
    ("Cast", [np.ones(3, np.float32)], {"to": 999}, "not supported"),
    ("Mod", [np.ones(3, np.int32)] * 2, {"fmod": 2}, "fmod must be 0 or 1"),
])
def test_bad_input_is_an_error(run, op, inputs, attrs, message):
    with pytest.raises(Exception, match=message):
        run(op, inputs, np.float32, attrs, opset=18)
