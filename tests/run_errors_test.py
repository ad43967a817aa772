#!/usr/bin/python3
"""Bad models through `cquant run`: each must give exactly one line on stderr that names the node
(or the value) at fault, exit status 1, no crash and no file in the output folder. The models are
built here with onnx.helper: an unsupported operator, an unsupported attribute value, a type an
operator does not accept, shapes that do not broadcast, a subgraph that reads a value no scope
defines, Loops whose trip count is negative or past the iteration guard, If branches with different
output counts.

usage: run_errors_test.py PATH/TO/cquant
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CQ = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="cquant_run_errors.")
passed = failed = 0


def model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def check(label, m, feeds, want_in_msg):
    """Runs the model, expects a one-line failure that contains every string of want_in_msg."""
    global passed, failed
    path = os.path.join(tmp, label + ".onnx")
    onnx.save(m, path)
    args = [CQ, "run", path, "--exec", "float", "--output-dir", os.path.join(tmp, label + "_out")]
    for name, arr in feeds.items():
        f = os.path.join(tmp, f"{label}_{name}.npy")
        np.save(f, arr)
        args += ["--input", f"{name}={f}"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    out_dir = os.path.join(tmp, label + "_out")
    written = os.listdir(out_dir) if os.path.isdir(out_dir) else []
    ok = r.returncode == 1 and len(lines) == 1 and all(w in lines[0] for w in want_in_msg) and not written
    print(("ok   " if ok else "FAIL ") + label + ": exit %d, %s%s" % (r.returncode, lines[0] if lines else "(no message)",
                                                                   ", wrote %s" % written if written else ""))
    if not ok and len(lines) != 1:
        print("   stderr:", r.stderr[:2000])
    passed, failed = passed + ok, failed + (not ok)


x = np.ones((2, 3), np.float32)

check("unsupported_op", model([helper.make_node("NoSuchOp", ["x"], ["y"], name="weird")],
                              [vi("x", TensorProto.FLOAT, [2, 3])], [vi("y", TensorProto.FLOAT, None)]),
      {"x": x}, ["weird", "NoSuchOp", "not supported"])

check("unsupported_attribute", model([helper.make_node("Pad", ["x", "pads"], ["y"], name="padder", mode="mirror")],
                                     [vi("x", TensorProto.FLOAT, [2, 3])], [vi("y", TensorProto.FLOAT, None)],
                                     [numpy_helper.from_array(np.array([0, 1, 0, 1], np.int64), "pads")]),
      {"x": x}, ["padder", "mirror"])

check("wrong_type", model([helper.make_node("Sigmoid", ["x"], ["y"], name="sig")],
                          [vi("x", TensorProto.INT32, [2, 3])], [vi("y", TensorProto.INT32, None)]),
      {"x": np.ones((2, 3), np.int32)}, ["sig", "int32"])

check("shape_mismatch", model([helper.make_node("Add", ["x", "b"], ["y"], name="adder")],
                              [vi("x", TensorProto.FLOAT, [2, 3])], [vi("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.ones(4, np.float32), "b")]),
      {"x": x}, ["adder", "broadcast"])

check("matmul_mismatch", model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
                               [vi("x", TensorProto.FLOAT, [2, 3])], [vi("y", TensorProto.FLOAT, None)],
                               [numpy_helper.from_array(np.ones((4, 5), np.float32), "w")]),
      {"x": x}, ["mm"])

# control flow
then_g = helper.make_graph([helper.make_node("Add", ["x", "nowhere"], ["t"], name="inner_add")], "then", [],
                           [vi("t", TensorProto.FLOAT, None)])
else_g = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [], [vi("e", TensorProto.FLOAT, None)])
check("missing_outer_value", model([helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=else_g)],
                                   [vi("c", TensorProto.BOOL, []), vi("x", TensorProto.FLOAT, [2, 3])], [vi("y", TensorProto.FLOAT, None)]),
      {"c": np.array(True), "x": x}, ["nowhere"])

else2 = helper.make_graph([helper.make_node("Identity", ["x"], ["e"]), helper.make_node("Identity", ["x"], ["e2"])], "else2", [],
                          [vi("e", TensorProto.FLOAT, None), vi("e2", TensorProto.FLOAT, None)])
then2 = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then2", [], [vi("t", TensorProto.FLOAT, None)])
check("if_output_counts", model([helper.make_node("If", ["c"], ["y"], name="uneven", then_branch=then2, else_branch=else2)],
                                [vi("c", TensorProto.BOOL, []), vi("x", TensorProto.FLOAT, [2, 3])], [vi("y", TensorProto.FLOAT, None)]),
      {"c": np.array(False), "x": x}, ["uneven"])


def loop_model(trip):
    body = helper.make_graph([helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                              helper.make_node("Add", ["v_in", "one"], ["v_out"])], "body",
                             [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("v_in", TensorProto.FLOAT, [1])],
                             [vi("cond_out", TensorProto.BOOL, []), vi("v_out", TensorProto.FLOAT, [1])],
                             [numpy_helper.from_array(np.ones(1, np.float32), "one")])
    return model([helper.make_node("Loop", ["M", "", "v0"], ["v"], name="looper", body=body)],
                 [vi("v0", TensorProto.FLOAT, [1])], [vi("v", TensorProto.FLOAT, None)],
                 [numpy_helper.from_array(np.array(trip, np.int64), "M")])


check("loop_negative_trip_count", loop_model(-5), {"v0": np.zeros(1, np.float32)}, ["looper", "-5"])
check("loop_huge_trip_count", loop_model(1 << 62), {"v0": np.zeros(1, np.float32)}, ["looper"])

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
