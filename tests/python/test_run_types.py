"""cquant.run takes and returns every element type the executor knows (bool, int8..uint64, float16,
float32, float64): ONNX's own node tests, whose inputs and expected outputs are numpy arrays of
those types, give the same values through the Python module."""
import os

import numpy as np
import pytest

import cquant

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

NODE = "/usr/share/libonnx-testdata/data/node"
CASES = ["test_and2d", "test_xor_bcast4v4d", "test_cast_DOUBLE_to_FLOAT", "test_cast_FLOAT_to_DOUBLE", "test_add_uint8",
         "test_where_example", "test_equal", "test_max_uint64", "test_min_uint32", "test_argmax_default_axis_example",
         "test_not_2d", "test_mod_mixed_sign_int16", "test_cast_FLOAT16_to_FLOAT", "test_isnan"]


@pytest.mark.skipif(not os.path.isdir(NODE), reason="libonnx-testdata is not installed")
@pytest.mark.parametrize("case", CASES)
def test_node_case(case):
    d = os.path.join(NODE, case)
    m = onnx.load(os.path.join(d, "model.onnx"))
    inits = {i.name for i in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    data = os.path.join(d, "test_data_set_0")
    load = lambda p: numpy_helper.to_array(onnx.load_tensor(os.path.join(data, p)))
    feeds = {n: load(f"input_{k}.pb") for k, n in enumerate(names)}
    out = cquant.run(os.path.join(d, "model.onnx"), feeds, exec="float")
    for k, o in enumerate(m.graph.output):
        want = load(f"output_{k}.pb")
        got = out[o.name]
        assert got.dtype == want.dtype, (o.name, got.dtype, want.dtype)
        assert got.shape == want.shape
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-7)
        else:
            np.testing.assert_array_equal(got, want)
