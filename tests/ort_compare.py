#!/usr/bin/python3
"""cquant's float executor against ONNX Runtime (onnxruntime-node from npm) on small models built
here with onnx.helper and random weights: a CNN (Conv with groups/stride/padding, BatchNorm, Relu,
MaxPool, LeakyRelu, AveragePool, GlobalAveragePool, Flatten, Gemm, Softmax) and an MLP-ish graph
(MatMul, Add, Sigmoid, Tanh, HardSwish, Reshape, Transpose, Concat, Unsqueeze, Squeeze). Every
output must agree within a relative error of 1e-4 (max |cquant - ORT| / max |ORT|).

usage: ort_compare.py PATH/TO/cquant
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CQ = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not os.path.isdir(os.path.join(ROOT, "tools/ort/node_modules/onnxruntime-node")):
    print("skipped: onnxruntime-node is not installed (scripts/setup installs it from the npm registry)")
    sys.exit(77)  # CTest: SKIP_RETURN_CODE
rng = np.random.default_rng(3)
tmp = tempfile.mkdtemp(prefix="cquant_ort.")
passed = failed = 0


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def cnn():
    w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32)
    b1 = rng.standard_normal(8).astype(np.float32)
    bn = [rng.uniform(0.5, 1.5, 8), rng.standard_normal(8) * 0.1, rng.standard_normal(8) * 0.1, rng.uniform(0.5, 2, 8)]
    w2 = (rng.standard_normal((16, 4, 3, 3)) * 0.2).astype(np.float32)
    w3 = (rng.standard_normal((10, 16)) * 0.3).astype(np.float32)
    b3 = rng.standard_normal(10).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["n1"], epsilon=1e-5),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], group=2, strides=[2, 2], pads=[1, 0, 1, 0], dilations=[1, 1]),
        helper.make_node("LeakyRelu", ["c2"], ["l2"], alpha=0.1),
        helper.make_node("AveragePool", ["l2"], ["a2"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1]),
        helper.make_node("GlobalAveragePool", ["a2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1),
    ]
    inits = [init("w1", w1), init("b1", b1), init("s", bn[0].astype(np.float32)), init("bb", bn[1].astype(np.float32)),
             init("m", bn[2].astype(np.float32)), init("v", bn[3].astype(np.float32)), init("w2", w2), init("w3", w3), init("b3", b3)]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 12, 12])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 10]), helper.make_tensor_value_info("logits", TensorProto.FLOAT, [2, 10])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), {"x": rng.standard_normal((2, 3, 12, 12)).astype(np.float32)}


def mlp():
    w = (rng.standard_normal((6, 5)) * 0.5).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Add", ["h", "b"], ["hb"]),
        helper.make_node("Sigmoid", ["hb"], ["s"]),
        helper.make_node("Tanh", ["hb"], ["t"]),
        helper.make_node("HardSwish", ["hb"], ["hs"]),
        helper.make_node("Concat", ["s", "t", "hs"], ["c"], axis=1),
        helper.make_node("Reshape", ["c", "shape"], ["r"]),
        helper.make_node("Transpose", ["r"], ["tr"], perm=[1, 0, 2]),
        helper.make_node("Unsqueeze", ["tr", "ax"], ["u"]),
        helper.make_node("Squeeze", ["u", "ax"], ["y"]),
    ]
    inits = [init("w", w), init("b", b), init("shape", np.array([4, 3, -1], np.int64)), init("ax", np.array([0], np.int64))]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4, 5])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), {"x": rng.standard_normal((4, 6)).astype(np.float32)}


def shapes():
    """The shape arithmetic of exported models: Shape, Gather, Unsqueeze, Concat, Reshape, Slice,
    Pad, Expand, ConstantOfShape, feeding a Conv."""
    w = (rng.standard_normal((4, 2, 3, 3)) * 0.3).astype(np.float32)
    nodes = [
        helper.make_node("Pad", ["x", "pads", "pv"], ["xp"], mode="constant"),
        helper.make_node("Conv", ["xp", "w"], ["c"]),
        helper.make_node("Shape", ["c"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        helper.make_node("Concat", ["n1", "m1"], ["tshape"], axis=0),
        helper.make_node("Reshape", ["c", "tshape"], ["flat"]),
        helper.make_node("Slice", ["flat", "st", "en", "ax1", "sp"], ["sl"]),
        helper.make_node("ConstantOfShape", ["cs"], ["ones"], value=numpy_helper.from_array(np.array([0.5], np.float32))),
        helper.make_node("Expand", ["ones", "es"], ["ex"]),
        helper.make_node("Mul", ["sl", "ex"], ["y"]),
    ]
    inits = [init("pads", np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)), init("pv", np.array(0.25, np.float32)), init("w", w),
             init("i0", np.array(0, np.int64)), init("ax0", np.array([0], np.int64)), init("m1", np.array([-1], np.int64)),
             init("st", np.array([3], np.int64)), init("en", np.array([-2], np.int64)), init("ax1", np.array([1], np.int64)),
             init("sp", np.array([2], np.int64)), init("cs", np.array([2, 1], np.int64)), init("es", np.array([2, 1], np.int64))]
    g = helper.make_graph(nodes, "shapes", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2, 6, 7])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 110])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), {"x": rng.standard_normal((2, 2, 6, 7)).astype(np.float32)}


def resize():
    """The upsampling and splitting ops of segmentation/detection exports: Resize (nearest and linear,
    every coordinate mode, scales and sizes), Split, ReduceMean/ReduceSum, reflect and edge Pad."""
    nodes = [
        helper.make_node("Resize", ["x", "", "sc2"], ["r1"], mode="nearest"),  # half_pixel, round_prefer_floor
        helper.make_node("Resize", ["x", "", "", "sz"], ["r2"], mode="linear"),
        helper.make_node("Resize", ["x", "", "", "sz"], ["r3"], mode="linear", coordinate_transformation_mode="align_corners"),
        helper.make_node("Resize", ["x", "", "sc3"], ["r4"], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        helper.make_node("Resize", ["x", "", "", "sz"], ["r5"], mode="nearest", coordinate_transformation_mode="pytorch_half_pixel",
                         nearest_mode="round_prefer_ceil"),
        helper.make_node("Resize", ["x", "", "sc3"], ["r6"], mode="linear", coordinate_transformation_mode="pytorch_half_pixel"),
        helper.make_node("Split", ["x", "spl"], ["s1", "s2"], axis=1),
        helper.make_node("ReduceMean", ["x"], ["m1"], axes=[2, 3], keepdims=1),
        helper.make_node("ReduceMean", ["x"], ["m2"], axes=[1], keepdims=0),
        helper.make_node("ReduceSum", ["x", "rax"], ["m3"], keepdims=1),
        helper.make_node("Pad", ["x", "pads"], ["p1"], mode="reflect"),
        helper.make_node("Pad", ["x", "pads"], ["p2"], mode="edge"),
    ]
    inits = [init("sc2", np.array([1, 1, 2, 2], np.float32)), init("sz", np.array([1, 3, 9, 12], np.int64)),
             init("sc3", np.array([1, 1, 1.5, 3], np.float32)), init("spl", np.array([1, 2], np.int64)), init("rax", np.array([-1], np.int64)),
             init("pads", np.array([0, 0, 2, 1, 0, 0, 1, 3], np.int64))]
    outs = ["r1", "r2", "r3", "r4", "r5", "r6", "s1", "s2", "m1", "m2", "m3", "p1", "p2"]
    g = helper.make_graph(nodes, "resize", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 7])],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None]) for o in outs], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), {"x": rng.standard_normal((1, 3, 5, 7)).astype(np.float32)}


def upsample():
    """Upsample (opset 9), as older exporters write it."""
    nodes = [helper.make_node("Upsample", ["x", "sc"], ["u1"], mode="nearest"), helper.make_node("Upsample", ["x", "sc"], ["u2"], mode="linear")]
    g = helper.make_graph(nodes, "upsample", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2, 4, 3])],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None]) for o in ("u1", "u2")],
                          [init("sc", np.array([1, 1, 2, 3], np.float32))])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 9)]), {"x": rng.standard_normal((2, 2, 4, 3)).astype(np.float32)}


def cubic():
    """Bicubic Resize as torchvision's keypoint head and bicubic upsampling export it: cquant computes
    float32 cubic in ONNX Runtime's float order, so these outputs must equal ORT's bit for bit (an
    ArgMax over them must pick the same pixel)."""
    nodes = [
        helper.make_node("Resize", ["x", "", "", "sz"], ["q1"], mode="cubic", cubic_coeff_a=-0.75, nearest_mode="floor"),
        helper.make_node("Resize", ["x", "", "sc"], ["q2"], mode="cubic", coordinate_transformation_mode="pytorch_half_pixel"),
        helper.make_node("Resize", ["x", "", "", "sz"], ["q3"], mode="cubic", coordinate_transformation_mode="asymmetric", exclude_outside=1,
                         cubic_coeff_a=-0.5),
        helper.make_node("Resize", ["x", "", "", "szd"], ["q4"], mode="cubic"),  # downsampling
    ]
    inits = [init("sz", np.array([1, 3, 23, 17], np.int64)), init("sc", np.array([1, 1, 2.5, 1.75], np.float32)),
             init("szd", np.array([1, 3, 5, 4], np.int64))]
    outs = ["q1", "q2", "q3", "q4"]
    g = helper.make_graph(nodes, "cubic", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 8])],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None]) for o in outs], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), {"x": rng.standard_normal((1, 3, 9, 8)).astype(np.float32)}


def layernorm():
    """LayerNormalization (opset 17, over the last axis and the last two, with and without a bias) and
    SimplifiedLayerNormalization as transformer exports use them: cquant computes float32 rows in
    ONNX Runtime's float order (their largest values set a dynamically quantized batch's scale), so
    the outputs must equal ORT's bit for bit. The input has a mean of about 3 std, inside the range
    where that order is used."""
    g1 = rng.uniform(0.5, 1.5, 48).astype(np.float32)
    b1 = (rng.standard_normal(48) * 0.1).astype(np.float32)
    g2 = rng.uniform(0.5, 1.5, (5, 48)).astype(np.float32)
    nodes = [
        helper.make_node("LayerNormalization", ["x", "g1", "b1"], ["n1"], epsilon=1e-5),
        helper.make_node("LayerNormalization", ["x", "g2"], ["n2"], axis=-2, epsilon=1e-6),
        helper.make_node("SimplifiedLayerNormalization", ["x", "g1"], ["n3"], axis=-1, epsilon=1e-6),  # ORT registers it in the ONNX domain
    ]
    outs = ["n1", "n2", "n3"]
    g = helper.make_graph(nodes, "layernorm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 5, 48])],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None]) for o in outs],
                          [init("g1", g1), init("b1", b1), init("g2", g2)])
    x = (rng.standard_normal((4, 5, 48)) * 2 + 6).astype(np.float32)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), {"x": x}


EXACT = {"cubic", "layernorm"}  # models whose outputs must equal ORT's bit for bit


def large():
    """Convolutions over a 300x300 image: the float im2col works on blocks of output rows."""
    w1 = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((5, 4, 3, 3)) * 0.3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c1", "w2"], ["y"], pads=[2, 1, 0, 2], strides=[2, 1], dilations=[2, 1])]
    g = helper.make_graph(nodes, "large", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 300, 300])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, None, None])], [init("w1", w1), init("w2", w2)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), {"x": rng.standard_normal((1, 3, 300, 300)).astype(np.float32)}


for name, build in (("cnn", cnn), ("large", large), ("mlp", mlp), ("shapes", shapes), ("resize", resize), ("upsample", upsample), ("cubic", cubic), ("layernorm", layernorm),
                    ("cnn_external", cnn)):
    model, feeds = build()
    if name != "layernorm":  # SimplifiedLayerNormalization is ORT's, in the ONNX domain: the checker refuses it
        onnx.checker.check_model(model)
    mp = os.path.join(tmp, name + ".onnx")
    if name.endswith("_external"):  # every initializer in a separate file beside the model
        onnx.save_model(model, mp, save_as_external_data=True, all_tensors_to_one_file=True, location=name + ".data", size_threshold=0)
        assert os.path.exists(os.path.join(tmp, name + ".data"))
    else:
        onnx.save(model, mp)
    args = []
    for k, v in feeds.items():
        np.save(os.path.join(tmp, k + ".npy"), v)
        args.append(f"{k}={os.path.join(tmp, k + '.npy')}")
    od_c, od_o = os.path.join(tmp, name + "_c"), os.path.join(tmp, name + "_o")
    os.makedirs(od_c, exist_ok=True)
    os.makedirs(od_o, exist_ok=True)
    rc = subprocess.run([CQ, "run", mp, *sum([["--input", a] for a in args], []), "--output-dir", od_c], capture_output=True, text=True)
    ro = subprocess.run(["node", os.path.join(ROOT, "tools/ort/run.js"), mp, od_o, *args], capture_output=True, text=True)
    if rc.returncode or ro.returncode:
        failed += 1
        print(f"FAIL {name}: cquant: {rc.stderr.strip()} ort: {ro.stderr.strip()}")
        continue
    for out in model.graph.output:
        c = np.load(os.path.join(od_c, out.name + ".npy"))
        o = np.load(os.path.join(od_o, out.name + ".npy"))
        err = float(np.max(np.abs(c - o)) / max(float(np.max(np.abs(o))), 1e-30)) if c.shape == o.shape else float("inf")
        ok = c.shape == o.shape and (np.array_equal(c, o) if name in EXACT else err <= 1e-4)
        passed += ok
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: output {out.name} {c.shape}: relative error {err:.2e} against ONNX Runtime"
              f"{' (must be bit-identical)' if name in EXACT else ''}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
