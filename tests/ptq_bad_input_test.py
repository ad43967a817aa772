#!/usr/bin/python3
"""Issue 11's bad-input list, through `cquant ptq` end to end: for every case the CLI exits 1 with one
line on stderr naming what is wrong, and writes nothing (neither the model nor the --report JSON);
for the cases that are not errors, what happens instead is checked.

- an image folder with a corrupt JPEG, or a file with an image name that is no image: an error naming
  the file (docs/formats.md, "Bad files are errors, not skipped"); a file with another name (a README)
  is ignored by name, and calibration counts only the images;
- images of mixed sizes: without a resize, or with a shorter-side resize and no crop, an error naming
  the file and both sizes; with a fixed-size resize, or a resize and a crop, they calibrate;
- a token file of the wrong dtype for an int64 input (float32, float16, uint8, int32, bool): an error
  naming the input and both types; float64, which no model input is fed from, is refused naming the
  file and its type;
- opset-21 weights (packed int4/uint4, per-group) for a model that must stay at a lower opset (an
  opset-18 GroupNormalization, whose form changes at 21; an opset-17 DFT, changed at 20, is in
  ptq_int4_test.py), or a model of opset 10 (cquant upgrades from 11): the node or the opset named.
usage: ptq_bad_input_test.py CQUANT"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from made_files import image_classifier, png_bytes, token_model  # noqa: E402

CQ = sys.argv[1]
fails = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f"\n     {detail}"))
    if not ok:
        fails.append(name)


def png(px):
    return png_bytes(px)


# a minimal baseline JPEG header (SOI, APP0/JFIF, the start of a DQT) cut short: libjpeg-turbo stops in it
JPEG_CUT = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffdb004300") + bytes(20)

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    print("skip: python3-onnx is missing")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="cquant_badin_")
rng = np.random.default_rng(11)


def cq_ptq(model, *args):
    out, rep = os.path.join(tmp, "out.onnx"), os.path.join(tmp, "out.json")
    for f in (out, rep):
        if os.path.exists(f):
            os.remove(f)
    r = subprocess.run([CQ, "ptq", model, *args, "-o", out, "--report", rep], capture_output=True, text=True)
    written = [f for f in (out, rep) if os.path.exists(f)]
    return r, written


def refused(name, model, args, needles):
    r, written = cq_ptq(model, *args)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln]
    ok = r.returncode == 1 and len(lines) == 1 and all(n in lines[0] for n in needles) and not written
    check(f"{name}: exit 1, one line naming {', '.join(repr(n) for n in needles)}, nothing written", ok,
          f"rc {r.returncode}, written {written}, stderr {r.stderr.strip()[:300]!r}")


def accepted(name, model, args, want):
    r, written = cq_ptq(model, *args)
    check(name, r.returncode == 0 and len(written) == 2 and want in r.stdout, f"rc {r.returncode}: {(r.stdout + r.stderr).strip()[-300:]}")


# ---- image folders -------------------------------------------------------------------------------
img = image_classifier(os.path.join(tmp, "img.onnx"), rng)


def folder(name, extra):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    for k in range(3):
        with open(os.path.join(d, f"{k}.png"), "wb") as f:
            f.write(png(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)))
    for n, data in extra.items():
        with open(os.path.join(d, n), "wb") as f:
            f.write(data)
    return d


d = folder("cut_jpeg", {"3.jpg": JPEG_CUT})
refused("a truncated JPEG among PNGs", img, ["--calib", d], ["3.jpg", "not a readable JPEG image"])
d = folder("text_as_jpeg", {"notes.jpeg": b"a text file with an image's name\n"})
refused("a text file named .jpeg", img, ["--calib", d], ["notes.jpeg", "not a PNG or JPEG image"])
d = folder("html_as_png", {"x.PNG": b"<html>not a png</html>"})
refused("an HTML file named .PNG", img, ["--calib", d], ["x.PNG", "not a PNG or JPEG image"])
d = folder("with_readme", {"README.txt": b"calibration images\n", "labels.csv": b"0,1\n"})
accepted("a README and a .csv among 3 images are ignored by name: calibrated on the 3 images", img, ["--calib", d], "calibrated on 3 samples")

d = folder("mixed", {"3.png": png(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))})
refused("mixed sizes without a resize", img, ["--calib", d], ["3.png", "20 x 24", "16 x 16", "mixed sizes"])
refused("mixed sizes with a shorter-side resize and no crop", img, ["--calib", d, "--resize", "16"], ["3.png", "16 x 19", "mixed sizes"])
accepted("mixed sizes with --resize 16 --crop 16 calibrate (4 samples)", img, ["--calib", d, "--resize", "16", "--crop", "16"], "calibrated on 4 samples")
accepted("mixed sizes with a fixed --resize 16x16 calibrate (4 samples)", img, ["--calib", d, "--resize", "16x16"], "calibrated on 4 samples")
refused("mixed sizes resized to 12x12 for a 16 x 16 input", img, ["--calib", d, "--resize", "12x12"], ["does not fit the model's input 'x'"])

# ---- token files of the wrong dtype ---------------------------------------------------------------
tok, _ = token_model(os.path.join(tmp, "tok.onnx"), rng)
ids = rng.integers(0, 50, (40, 6))
for dt in ("int64", "float32", "float16", "uint8", "int32", "bool", "float64"):
    np.save(os.path.join(tmp, f"ids_{dt}.npy"), ids.astype(dt))
accepted("int64 token ids for the int64 input calibrate", tok, ["--calib", os.path.join(tmp, "ids_int64.npy")], "calibrated on 40 samples")
for dt in ("float32", "float16", "uint8", "int32", "bool"):  # float16 is read as float32 and named so
    shown = "float32" if dt == "float16" else dt
    refused(f"{dt} token ids for an int64 input", tok, ["--calib", os.path.join(tmp, f"ids_{dt}.npy")],
            [f"ids_{dt}.npy", f"{shown} data for the model's input 'ids', which takes int64"])
refused("float64 token ids", tok, ["--calib", os.path.join(tmp, "ids_float64.npy")], ["ids_float64.npy", "float64 arrays are not read"])
refused("int32 ids given by name (ids=FILE)", tok, ["--calib", "ids=" + os.path.join(tmp, "ids_int32.npy")], ["input 'ids'", "takes int64"])

# ---- opset-21 output for a model that must stay below -----------------------------------------------
W = numpy_helper.from_array((rng.standard_normal((64, 32)) * 0.2).astype(np.float32), "W")
xs = os.path.join(tmp, "xs.npy")
np.save(xs, rng.standard_normal((50, 64)).astype(np.float32))
nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm"), helper.make_node("Reshape", ["y", "sh"], ["y3"], name="rs"),
         helper.make_node("GroupNormalization", ["y3", "s", "b"], ["gn"], num_groups=2, name="my_gn")]
g = helper.make_graph(nodes, "gn18", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
                      [helper.make_tensor_value_info("gn", TensorProto.FLOAT, None)],
                      [W, numpy_helper.from_array(np.ones(4, np.float32), "s"), numpy_helper.from_array(np.zeros(4, np.float32), "b"),
                       numpy_helper.from_array(np.array([-1, 4, 8], np.int64), "sh")])
gn18 = os.path.join(tmp, "gn18.onnx")
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]), gn18)
cal = ["--calib", xs, "--batch", "10"]
for w in (["--weights", "uint4"], ["--weights", "int4", "--pack-int4"], ["--weights", "int4", "--weight-granularity", "group:32"],
          ["--weights", "int8", "--weight-granularity", "group:16"]):
    refused(f"opset-18 GroupNormalization with {' '.join(w)}", gn18, cal + w, ["need opset 21", "'my_gn' (GroupNormalization)", "opset <= 20"])
# the refusal comes before any data is read: calibration data of the wrong width would fail later
xbad = os.path.join(tmp, "xs_bad.npy")
np.save(xbad, rng.standard_normal((50, 63)).astype(np.float32))
refused("the same refusal before calibration (data of the wrong width)", gn18, ["--calib", xbad, "--batch", "10", "--weights", "uint4"],
        ["need opset 21", "'my_gn' (GroupNormalization)"])
accepted("the same model with int8 per-channel weights (opset 18 kept)", gn18, cal, "calibrated on 50 samples")
g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], "o10", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [W])
o10 = os.path.join(tmp, "o10.onnx")
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 10)]), o10)
refused("an opset-10 model with per-group int4 weights", o10, cal + ["--weights", "int4", "--weight-granularity", "group:32"],
        ["need opset 21", "the model is opset 10", "opset 11 or later"])
refused("an opset-10 model with fp8 weights", o10, cal + ["--weights", "fp8e4m3"], ["need opset 19", "the model is opset 10"])

shutil.rmtree(tmp, ignore_errors=True)
print(f"\n{len(fails)} failed" if fails else "\nall passed")
sys.exit(1 if fails else 0)
