#!/usr/bin/python3
"""The zoo's comparison rules (tools/zoo/zoo_common.py) on crafted outputs, and its float64 reference
on a small graph run by cquant:
- detections whose scores are equal within the bound may come in either order (they are paired by
  box), but a box that moved, or a swap of detections whose scores differ beyond the bound, fails;
- a keypoint (argmax of a heatmap) at another location passes only where the maxima found agree
  within the bound;
- exact_verdict: against the float64 evaluation cquant must be within the bound or no further than
  ONNX Runtime, and ONNX Runtime within twice the bound;
- to_float64 / run_exact: a graph with float16 weights behind Cast, Constant and ConstantOfShape
  values and a Loop body computes in float64 (error against NumPy's float64 below 1e-12, where a
  float32 run is some 1e-8 off).

usage: zoo_compare_test.py PATH/TO/cquant
"""
import os
import shutil
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "zoo"))
import zoo_common as zc  # noqa: E402

CQ = os.path.abspath(sys.argv[1])
fails = 0


def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    fails += 0 if ok else 1


DET = {"detection_outputs": ["boxes", "labels", "scores", "masks"], "score_output": "scores"}
rng = np.random.default_rng(5)


def detections():
    s = np.array([0.9279612, 0.8962142, 0.8962131, 0.8943461, 0.5], np.float32)
    b = (rng.uniform(0, 300, (5, 4))).astype(np.float32)
    m = rng.uniform(0, 1, (5, 1, 8, 8)).astype(np.float32)
    lab = np.array([3, 24, 24, 7, 1], np.int64)
    return {"scores": s, "boxes": b, "masks": m, "labels": lab}


def permuted(d, p):
    return {k: v[p] for k, v in d.items()}


# --- near-equal scores: either order is right, a moved box is not
ref = detections()
mine = permuted(ref, [0, 2, 1, 3, 4])  # the two near-tied detections in the other order ...
mine["scores"] = mine["scores"].copy()
mine["scores"][1], mine["scores"][2] = np.float32(0.8962138), np.float32(0.8962137)  # ... and scored so
rels, problem, notes = zc.compare_outputs(DET, mine, ref)
check(not problem and notes == ["2 detections of near-equal score paired by box"],
      f"near-tied detections in the other order pair by box: {problem or 'agree'}; {notes}")
old_rule = {k: (ref[k][zc._detection_order(ref['scores'], ref['boxes'])], mine[k][zc._detection_order(mine['scores'], mine['boxes'])])
            for k in ("boxes",)}
check(not np.array_equal(*old_rule["boxes"]), "sorting by score alone pairs them wrongly (what the pairing is for)")
moved = {k: v.copy() for k, v in mine.items()}
moved["boxes"][2, 0] += 1.0  # a near-tied detection whose box really differs
check(bool(zc.compare_outputs(DET, moved, ref)[1]), "a near-tied detection with a moved box still fails")
apart = permuted(ref, [0, 3, 2, 1, 4])  # detections 1 and 3 swapped: scores 3e-3 apart
apart["scores"] = ref["scores"].copy()
check(bool(zc.compare_outputs(DET, apart, ref)[1]), "detections whose scores differ beyond the bound are not re-paired")
check(not zc.compare_outputs(DET, ref, ref)[1] and not zc.compare_outputs(DET, ref, ref)[2], "identical outputs: no problem, no note")

# --- keypoints: another location is a tie only where the maxima agree
KP = {"detection_outputs": ["boxes", "scores", "keypoints", "keypoints_scores"], "score_output": "scores"}
kref = {"scores": np.array([0.8, 0.3], np.float32), "boxes": np.array([[1, 2, 30, 40], [5, 6, 70, 80]], np.float32),
        "keypoints": np.concatenate([rng.uniform(0, 300, (2, 17, 2)), np.ones((2, 17, 1))], 2).astype(np.float32),
        "keypoints_scores": rng.uniform(1, 100, (2, 17)).astype(np.float32)}
kmine = {k: v.copy() for k, v in kref.items()}
kmine["keypoints"][1, 5, 0] += 10.9  # another pixel ...
kmine["keypoints_scores"][1, 5] *= np.float32(1 + 6e-6)  # ... with the same maximum
rels, problem, notes = zc.compare_outputs(KP, kmine, kref)
check(not problem and notes == ["1 of 34 keypoints at a near-tied maximum (the values found agree)"],
      f"a keypoint at a near-tied maximum passes: {problem or 'agree'}; {notes}")
kmine["keypoints_scores"][1, 5] = kref["keypoints_scores"][1, 5] * np.float32(1.01)
check(bool(zc.compare_outputs(KP, kmine, kref)[1]), "a keypoint elsewhere with another maximum fails")

# --- the float64 evaluation decides between two float32 runtimes
ONE = {"detection_outputs": [], "score_output": None}
ex = {"y": rng.normal(0, 1, 1000)}
sc = float(np.abs(ex["y"]).max())


def off(e):
    y = ex["y"].copy()
    y[7] += e * sc
    return {"y": y.astype(np.float32)}


check(bool(zc.compare_outputs(ONE, off(-0.9e-4), off(0.9e-4))[1]), "two runtimes each 0.9e-4 from exact differ by 1.8e-4")
cases = [(-0.9e-4, 0.9e-4, True, "both within the bound of exact"),
         (1.1e-4, 1.2e-4, True, "cquant beyond the bound but closer than ORT"),
         (1.5e-4, 1.2e-4, False, "cquant beyond the bound and further than ORT"),
         (0.0, 2.5e-4, False, "ORT more than twice the bound from exact (the evaluation is not confirmed)")]
for c, o, want, what in cases:
    problem, note = zc.exact_verdict(ONE, off(c), off(o), ex)
    check((not problem) == want, f"exact_verdict, {what}: {problem or note}")

# --- to_float64 and run_exact on a small graph: float16 weights behind Cast, Constant, ConstantOfShape, Loop
try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    onnx = None
if onnx is None or not os.path.exists(CQ):
    print("skipped: the float64 evaluation needs python3-onnx and the cquant CLI")
else:
    tmp = tempfile.mkdtemp(prefix="cquant_zoo_compare.")
    w = rng.normal(0, 1, (6, 5)).astype(np.float16)
    body = helper.make_graph(
        [helper.make_node("Mul", ["acc_in", "k"], ["t"]),
         helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(0.25, np.float32))),
         helper.make_node("Add", ["t", "c"], ["acc_out"]), helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, None)])
    nodes = [
        helper.make_node("Cast", ["w16"], ["w"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["x", "w"], ["xw"]),
        helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.array(1.1, np.float32))),
        helper.make_node("ConstantOfShape", ["shape"], ["third"], value=numpy_helper.from_array(np.array([1 / 3], np.float32))),
        helper.make_node("Add", ["xw", "third"], ["s"]),
        helper.make_node("Sigmoid", ["s"], ["sg"]),
        helper.make_node("Loop", ["trips", "cond", "sg"], ["y"], body=body),
    ]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 5])],
                          [numpy_helper.from_array(w, "w16"), numpy_helper.from_array(np.array([4, 5], np.int64), "shape"),
                           numpy_helper.from_array(np.array(3, np.int64), "trips"), numpy_helper.from_array(np.array(True), "cond")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, os.path.join(tmp, "m.onnx"))
    x = rng.normal(0, 1, (4, 6)).astype(np.float32)
    np.save(os.path.join(tmp, "x.npy"), x)
    entry = {"file": "m.onnx", "inputs": {"x": "x.npy"}}
    k, third = float(np.float32(1.1)), float(np.float32(1 / 3))  # the graph's constants are float32 values
    want = 1 / (1 + np.exp(-(x.astype(np.float64) @ w.astype(np.float64) + third)))
    for _ in range(3):  # the Loop body: acc * k + 0.25
        want = want * k + 0.25
    ok32 = zc.run_cquant(CQ, tmp, entry, os.path.join(tmp, "c32"))[0]
    ok64, err = zc.run_exact(CQ, tmp, entry, os.path.join(tmp, "x64"))
    if not (ok32 and ok64):
        check(False, f"cquant runs the graph in float32 and float64: {err}")
    else:
        y32 = np.load(os.path.join(tmp, "c32", "y.npy"))
        y64 = np.load(os.path.join(tmp, "x64", "out", "y.npy"))
        e32, e64 = float(np.abs(y32 - want).max()), float(np.abs(y64 - want).max())
        check(y64.dtype == np.float64 and e64 < 1e-12 and e32 > 1e-9,
              f"run_exact computes in float64: {y64.dtype}, error {e64:.1e} (float32 run {e32:.1e})")
        check(not os.path.exists(os.path.join(tmp, "x64", "model64.onnx")), "run_exact removes its float64 copy of the model")
    shutil.rmtree(tmp, ignore_errors=True)

print(f"{'FAILED' if fails else 'passed'}: {fails} failure(s)")
sys.exit(1 if fails else 0)
