#!/usr/bin/python3
"""The integer runtime's quantized Add equals the QDQ graph it comes from, bit for bit (eq. 26b):
a com.microsoft QLinearAdd node run by `cquant run` against DequantizeLinear -> Add ->
QuantizeLinear with the same parameters run in float (`--exec float`), uint8 and int8, same shapes
and broadcast, with scales whose ratios put many sums on rounding ties; and the QDQ form run with
`--exec int` (rewritten into the integer operator) against the same float run.
usage: qlinear_add_test.py CQUANT"""
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    print("skip: python3-onnx is missing")
    sys.exit(77)

CQ = sys.argv[1]
fails = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f"  {detail}" if detail else ""))
    if not ok:
        fails.append(name)


def run(model, feeds, d, exec_):
    args = [CQ, "run", model, "--output-dir", d, "--exec", exec_]
    for k, v in feeds.items():
        np.save(f"{d}/{k}.npy", v)
        args += ["--input", f"{k}={d}/{k}.npy"]
    r = subprocess.run(args, capture_output=True, text=True)
    return np.load(f"{d}/y.npy") if r.returncode == 0 else r.stderr


def models(tmp, tag, dt, s1, z1, s2, z2, sy, zy, shape_a, shape_b):
    ot = TensorProto.UINT8 if dt == np.uint8 else TensorProto.INT8
    inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("s1", s1), ("s2", s2), ("sy", sy))]
    inits += [numpy_helper.from_array(np.array(v, dt), n) for n, v in (("z1", z1), ("z2", z2), ("zy", zy))]
    ins = [helper.make_tensor_value_info("a", ot, list(shape_a)), helper.make_tensor_value_info("b", ot, list(shape_b))]
    out = [helper.make_tensor_value_info("y", ot, None)]
    ql = helper.make_graph([helper.make_node("QLinearAdd", ["a", "s1", "z1", "b", "s2", "z2", "sy", "zy"], ["y"], domain="com.microsoft")],
                           "ql", ins, out, inits)
    qdq = helper.make_graph([helper.make_node("DequantizeLinear", ["a", "s1", "z1"], ["fa"]),
                             helper.make_node("DequantizeLinear", ["b", "s2", "z2"], ["fb"]),
                             helper.make_node("Add", ["fa", "fb"], ["f"]), helper.make_node("QuantizeLinear", ["f", "sy", "zy"], ["y"])],
                            "qdq", ins, out, inits)
    paths = []
    for g, name, ops in ((ql, "ql", [helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)]), (qdq, "qdq", [helper.make_opsetid("", 13)])):
        m = helper.make_model(g, opset_imports=ops)
        m.ir_version = 8
        paths.append(f"{tmp}/{tag}_{name}.onnx")
        onnx.save(m, paths[-1])
    return paths


def main():
    tmp = tempfile.mkdtemp(prefix="cquant_qadd.")
    rng = np.random.default_rng(4)
    cases = [("uint8 same shape", np.uint8, 0.02, 128, 0.04, 100, 0.06, 120, (64, 1024), (64, 1024)),
             ("uint8 ratios 1/2, 1 (ties)", np.uint8, 0.5, 7, 1.0, 200, 1.0, 3, (300, 256), (300, 256)),
             ("int8 broadcast", np.int8, 0.013, -5, 0.0371, 9, 0.041, -2, (8, 16, 64), (64,)),
             ("int8 ratio 3/2 (ties)", np.int8, 0.75, 0, 0.5, 1, 0.5, 0, (256, 256), (256, 256))]
    for name, dt, s1, z1, s2, z2, sy, zy, sa, sb in cases:
        lo, hi = np.iinfo(dt).min, np.iinfo(dt).max
        a = rng.integers(lo, hi + 1, sa, dtype=np.int64).astype(dt)
        b = rng.integers(lo, hi + 1, sb, dtype=np.int64).astype(dt)
        if a.size == 65536 and b.size == 65536:  # every pair once
            g = np.arange(65536)
            a, b = (g >> 8).astype(np.uint8).view(dt).reshape(sa), (g & 255).astype(np.uint8).view(dt).reshape(sb)
        ql, qdq = models(tmp, name.split()[0] + str(len(fails)) + str(sa[0]), dt, s1, z1, s2, z2, sy, zy, sa, sb)
        feeds = {"a": a, "b": b}
        ref = run(qdq, feeds, tempfile.mkdtemp(dir=tmp), "float")
        if isinstance(ref, str):
            check(f"{name}: the QDQ graph runs in float", False, ref[-200:])
            continue
        y = run(ql, feeds, tempfile.mkdtemp(dir=tmp), "int")
        check(f"{name}: QLinearAdd equals DequantizeLinear -> Add -> QuantizeLinear bit for bit",
              not isinstance(y, str) and y.dtype == ref.dtype and np.array_equal(y, ref),
              y[-200:] if isinstance(y, str) else f"{int((y != ref).sum())} of {ref.size} differ")
        yi = run(qdq, feeds, tempfile.mkdtemp(dir=tmp), "int")
        check(f"{name}: the QDQ form under --exec int (integer rewrite) equals its float run",
              not isinstance(yi, str) and np.array_equal(yi, ref), yi[-200:] if isinstance(yi, str) else f"{int((yi != ref).sum())} differ")
    # parameters given as inputs (not constants): no table is kept, eq. 26b runs element by element
    a = rng.integers(0, 256, (50, 70), dtype=np.int64).astype(np.uint8)
    b = rng.integers(0, 256, (50, 70), dtype=np.int64).astype(np.uint8)
    ql, qdq = models(tmp, "inputs", np.uint8, 0.5, 7, 1.0, 200, 1.0, 3, (50, 70), (50, 70))
    m = onnx.load(ql)
    sy = next(i for i in m.graph.initializer if i.name == "sy")
    m.graph.initializer.remove(sy)
    m.graph.input.append(helper.make_tensor_value_info("sy", TensorProto.FLOAT, []))
    onnx.save(m, f"{tmp}/ql_sy_input.onnx")
    ref = run(qdq, {"a": a, "b": b}, tempfile.mkdtemp(dir=tmp), "float")
    y = run(f"{tmp}/ql_sy_input.onnx", {"a": a, "b": b, "sy": np.array(1.0, np.float32)}, tempfile.mkdtemp(dir=tmp), "int")
    check("C_scale given as an input (no cached table): QLinearAdd equals the QDQ graph bit for bit",
          not isinstance(y, str) and not isinstance(ref, str) and np.array_equal(y, ref),
          y[-200:] if isinstance(y, str) else f"{int((y != ref).sum())} differ" if not isinstance(ref, str) else ref[-200:])
    print(f"\n{len(fails)} failed" if fails else "\nall passed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
