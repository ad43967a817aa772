#!/usr/bin/python3
"""Finds where cquant's float executor and ONNX Runtime part ways inside one model: every node output
of the main graph is made a graph output, both runtimes run the model on the same inputs, and the
nodes are walked in graph order comparing each output (max |d| / max |ORT|). Prints the first nodes
whose output differs beyond the tolerance by much more than their inputs do (--amplify), with their op type, attributes, input shapes and whether
their inputs still agreed (a node whose inputs are bit-identical and whose output differs is the
suspect; one whose inputs differ by rounding only may be a near-tie in TopK, ArgMax or NonMaxSuppression).
Nodes with subgraphs (If, Loop, Scan) also read outer tensors that are not in their input list, so
their tag can say "bit-identical" when what they read differs.

usage: first_diff.py MODEL.onnx NAME=FILE.npy [...] [--cquant PATH] [--tol 1e-4] [--show 8]
       first_diff.py ZOO_DIR --entry NAME_opOPSET[_fp16] [--cquant PATH]   (inputs from the manifest)
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo_common as zc  # noqa: E402


def fname(name):
    return name.replace("/", "_").replace("\\", "_") + ".npy"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("inputs", nargs="*")
    ap.add_argument("--entry", default="", help="with a zoo folder: the model's file name without .onnx")
    ap.add_argument("--cquant", default=os.path.join(zc.ROOT, "build", "cquant"))
    ap.add_argument("--tol", type=float, default=zc.TOL)
    ap.add_argument("--show", type=int, default=8)
    ap.add_argument("--amplify", type=float, default=100.0,
                    help="list a node only if its inputs are bit-identical or its output's relative difference is "
                         "this many times its inputs' (0: every node beyond the tolerance)")
    a = ap.parse_args()
    if os.path.isdir(a.model):
        folder, entries = zc.load_manifest(a.model)
        e = [x for x in entries if x.get("file") == a.entry + ".onnx"]
        if not e:
            sys.exit(f"first_diff: no entry {a.entry} in {a.model}")
        model_path = os.path.join(folder, e[0]["file"])
        inputs = zc.input_args(folder, e[0])
    else:
        model_path, inputs = a.model, a.inputs
    m = onnx.load(model_path)
    try:
        m = onnx.shape_inference.infer_shapes(m)
    except Exception:  # noqa: BLE001 - types are a convenience for ORT
        pass
    g = m.graph
    vi = {v.name: v for v in list(g.value_info) + list(g.output)}
    have = {o.name for o in g.output}
    for n in g.node:
        for o in n.output:
            if o and o not in have:
                g.output.append(vi[o] if o in vi and vi[o].type.HasField("tensor_type") else helper.make_empty_tensor_value_info(o))
                have.add(o)
    tmp = tempfile.mkdtemp(prefix="cquant_first_diff.")
    mp = os.path.join(tmp, "all_outputs.onnx")
    onnx.save(m, mp)
    entry = {"file": "all_outputs.onnx", "inputs": {}}
    for s in inputs:
        k, _, v = s.partition("=")
        entry["inputs"][k] = os.path.abspath(v)
    cdir, odir = os.path.join(tmp, "c"), os.path.join(tmp, "o")
    okc, _, _, _, cerr = zc.run_cquant(a.cquant, tmp, entry, cdir)
    oko, _, _, _, _, oerr = zc.run_ort(tmp, entry, odir)
    if not oko:
        sys.exit("first_diff: ONNX Runtime failed: " + oerr)
    if not okc:
        print("cquant failed: " + zc.short_error(cerr, mp))
    bad, relmap = {}, {}
    shown = 0

    def same_bits(x):
        po, pc = os.path.join(odir, fname(x)), os.path.join(cdir, fname(x))
        if not (os.path.exists(po) and os.path.exists(pc)):
            return True  # an initializer or a graph input: the same for both
        r, c = np.load(po), np.load(pc)
        return r.shape == c.shape and r.dtype == c.dtype and np.array_equal(r, c, equal_nan=r.dtype.kind in "fc")
    print(f"{model_path}: {len(g.node)} nodes, tolerance {a.tol:g} of each tensor's max |ORT|")
    for i, n in enumerate(g.node):
        worst, why = 0.0, ""
        for o in n.output:
            po, pc = os.path.join(odir, fname(o)), os.path.join(cdir, fname(o))
            if not o or not os.path.exists(po):
                continue
            if not os.path.exists(pc):
                worst, why = float("inf"), f"{o}: cquant wrote nothing"
                break
            r, c = np.load(po), np.load(pc)
            if r.shape != c.shape:
                worst, why = float("inf"), f"{o}: shape {c.shape} vs {r.shape}"
                break
            if r.dtype.kind in "fc":
                r64, c64 = r.astype(np.float64), c.astype(np.float64)
                d = np.where(np.isnan(r64) & np.isnan(c64), 0, np.abs(r64 - c64))
                sc = float(np.nanmax(np.abs(r64))) if r.size else 0.0
                dm = float(np.nanmax(np.where(np.isnan(d), np.inf, d))) if d.size else 0.0
                rel = dm / sc if sc > 0 else (0.0 if dm == 0 else float("inf"))
                if rel > worst:
                    worst, why = rel, f"{o}: max rel diff {rel:.2e} (max |d| {dm:.3g}, max |ORT| {sc:.3g})"
            elif not np.array_equal(r, c):
                worst, why = float("inf"), f"{o}: {int(np.sum(r != c))} of {r.size} values differ"
        for o in n.output:
            relmap[o] = worst
        in_rel = max([relmap.get(x, 0.0) for x in n.input if x] or [0.0])
        if worst > a.tol and (a.amplify <= 0 or worst > a.amplify * in_rel or all(same_bits(x) for x in n.input if x)):
            for o in n.output:
                bad[o] = worst
            ins_bad = [x for x in n.input if x in bad]
            shapes = []
            for x in n.input:
                p = os.path.join(odir, fname(x))
                shapes.append(str(np.load(p).shape) if x and os.path.exists(p) else ("init" if x else "-"))
            attrs = {at.name: helper.get_attribute_value(at) for at in n.attribute if at.type != onnx.AttributeProto.GRAPH}
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items() if not isinstance(v, onnx.TensorProto)}
            if ins_bad:
                tag = "inputs already differ"
            elif all(same_bits(x) for x in n.input if x):
                tag = "INPUTS BIT-IDENTICAL: suspect"
            else:
                tag = "inputs agree within the tolerance, not bit for bit"
            print(f"#{i} {n.op_type} '{n.name}' [{tag}; inputs' max rel diff {in_rel:.1e}] {why}\n    inputs {list(n.input)} shapes {shapes}\n    attributes {attrs}")
            shown += 1
            if shown >= a.show:
                break
    if not shown:
        print("no node output differs beyond the tolerance")


if __name__ == "__main__":
    main()
