#!/bin/bash
# End-to-end tests of the cquant command line: round trips checked against NumPy, and every kind of
# bad input: non-zero exit, exactly one line on stderr, and no output file left behind.
# usage: tests/cli_test.sh PATH/TO/cquant
set -u
CQ=$(realpath "$1")
DOC=$(realpath "$(dirname "$0")/../docs/onnx.md")
PY=/usr/bin/python3
T=$(mktemp -d /tmp/cquant_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# expect_fail NAME OUTFILE CMD...: non-zero exit, one stderr line, OUTFILE absent
expect_fail() {
  local name=$1 out=$2; shift 2
  rm -f "$out"
  "$@" >stdout.txt 2>stderr.txt; local rc=$?
  local lines; lines=$(wc -l <stderr.txt)
  if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && [ ! -e "$out" ] && ! ls "$out".tmp.* >/dev/null 2>&1; then ok "$name"
  else bad "$name (rc=$rc, stderr lines=$lines: $(head -c 300 stderr.txt))"; fi
}

$PY - <<'PY'
import numpy as np
rng = np.random.default_rng(7)
x = (rng.standard_normal((64, 100)) * np.linspace(0.1, 2, 64)[:, None]).astype(np.float32)
np.save("x.npy", x)
np.save("x16.npy", x.astype(np.float16))
np.save("x64.npy", x.astype(np.float64))
np.save("xbe.npy", x.astype(">f4"))
np.save("xf.npy", np.asfortranarray(x))
n = x.copy(); n[3, 7] = np.nan; np.save("nan.npy", n)
i = x.copy(); i[5, 1] = np.inf; np.save("inf.npy", i)
np.save("empty.npy", np.zeros((0,), np.float32))
raw = open("x.npy", "rb").read(); open("trunc.npy", "wb").write(raw[: len(raw) // 2])
open("garbage.npy", "wb").write(b"this is not a numpy file at all")
np.save("q4bad.npy", np.array([0, 1, 9], np.int8))
PY

# 1. int8 per-channel round trip, checked against NumPy's own arithmetic
if $CQ quantize x.npy -o q.npy --dtype int8 --per-channel 0 --qparams qp.json >out.txt &&
   $CQ dequantize q.npy --qparams qp.json -o y.npy >/dev/null &&
   $CQ fake-quant x.npy -o f.npy --dtype int8 --per-channel 0 >/dev/null &&
   $PY - <<'PY'
import json, numpy as np
x = np.load("x.npy"); q = np.load("q.npy"); y = np.load("y.npy"); f = np.load("f.npy")
qp = json.load(open("qp.json"))
s = np.array(qp["scale"], np.float32)[:, None]; z = np.array(qp["zero_point"])[:, None]
assert q.dtype == np.int8 and q.shape == x.shape
amax = np.maximum(-x.min(1), x.max(1)).astype(np.float32)
assert np.array_equal(s[:, 0], amax / np.float32(127.5)), "scale must be amax/127.5"
want = np.clip(np.rint(x / s) + z, -128, 127)
assert np.array_equal(q, want), "quantized values"
assert np.array_equal(y, ((q.astype(np.int32) - z).astype(np.float32) * s)), "dequantized values"
assert np.array_equal(f, y), "fake-quant equals quantize+dequantize"
PY
then ok "int8 per-channel round trip equals NumPy"; else bad "int8 per-channel round trip equals NumPy"; fi
grep -q "SQNR" out.txt && grep -q "clipping MSE" out.txt && ok "quantize prints the error report" || bad "quantize prints the error report"

# 2. packed int4 per-group with a short last group, and uint4 asymmetric
if $CQ quantize x.npy -o p.npy --dtype int4 --per-group 1:32 --short-last-group --pack --qparams pq.json >/dev/null &&
   $CQ dequantize p.npy --qparams pq.json -o py.npy >/dev/null &&
   $CQ fake-quant x.npy -o pf.npy --dtype int4 --per-group 1:32 --short-last-group >/dev/null &&
   $PY - <<'PY'
import json, numpy as np
p = np.load("p.npy"); y = np.load("py.npy"); f = np.load("pf.npy"); qp = json.load(open("pq.json"))
assert p.dtype == np.uint8 and p.shape == (64 * 100 // 2,), p.shape
assert qp["param_shape"] == [64, 4] and qp["layout"] == "packed"
assert np.array_equal(y, f)
lo = (p & 15).astype(np.int8); lo[lo > 7] -= 16
q0 = np.clip(np.rint(np.load("x.npy")[0, 0] / np.float32(qp["scale"][0])), -8, 7)
assert lo[0] == q0, (lo[0], q0)
PY
then ok "packed int4 per-group (short last group) round trip"; else bad "packed int4 per-group (short last group) round trip"; fi

# 3. --load-qparams reuses parameters; float16 input; fp8; --scale/--zero-point
$CQ quantize x.npy -o q2.npy --load-qparams qp.json >/dev/null && cmp -s q.npy q2.npy && ok "--load-qparams reproduces the output" || bad "--load-qparams reproduces the output"
$CQ quantize x16.npy -o h.npy --dtype uint8 >/dev/null && ok "float16 input" || bad "float16 input"
$CQ quantize x.npy -o e.npy --dtype fp8e4m3 --per-channel 0 --qparams e.json >/dev/null &&
  $CQ dequantize e.npy --qparams e.json -o ey.npy >/dev/null && $CQ error x.npy ey.npy --qparams e.json | grep -q "SQNR" && ok "fp8e4m3 scaled round trip" || bad "fp8e4m3 scaled round trip"
$CQ quantize x.npy -o s.npy --scale 0.01 --zero-point 5 --qparams s.json >/dev/null &&
  $PY -c "
import numpy as np; x=np.load('x.npy'); q=np.load('s.npy')
assert np.array_equal(q, np.clip(np.rint(x/np.float32(0.01))+5,-128,127))" && ok "--scale/--zero-point" || bad "--scale/--zero-point"
# 3b. hand-written qparams (another tool's): no "granularity", no "shape"; inferred from axis/group_size and the tensor
$PY - <<'PY'
import json
qp = json.load(open("qp.json")); s = json.load(open("s.json"))
json.dump({"dtype": "int8", "axis": 0, "scale": qp["scale"], "zero_point": qp["zero_point"]}, open("hand_pc.json", "w"))
json.dump({"dtype": "int8", "scale": s["scale"], "zero_point": s["zero_point"]}, open("hand_pt.json", "w"))
json.dump({"dtype": "int8", "axis": 1, "group_size": 25, "scale": [0.01] * 256, "zero_point": [0] * 256}, open("hand_pg.json", "w"))
json.dump({"dtype": "int8", "granularity": "per_tensor", "axis": 0, "scale": [0.1], "zero_point": [0]}, open("bad_pt.json", "w"))
json.dump({"dtype": "int8", "axis": 0, "scale": qp["scale"][:63], "zero_point": qp["zero_point"][:63]}, open("bad_cnt.json", "w"))
json.dump({"dtype": "int8", "axis": 0, "shape": [64, 99], "scale": qp["scale"], "zero_point": qp["zero_point"]}, open("bad_shape.json", "w"))
json.dump({"dtype": "int4", "layout": "packed", "scale": [0.1], "zero_point": [0]}, open("bad_pk.json", "w"))
PY
$CQ quantize x.npy -o hq.npy --load-qparams hand_pc.json >/dev/null && cmp -s q.npy hq.npy && ok "hand-written per-channel qparams: quantize" || bad "hand-written per-channel qparams: quantize"
$CQ dequantize q.npy --qparams hand_pc.json -o hy.npy >/dev/null && cmp -s y.npy hy.npy && ok "hand-written per-channel qparams: dequantize" || bad "hand-written per-channel qparams: dequantize"
$CQ quantize x.npy -o hs.npy --load-qparams hand_pt.json >/dev/null && cmp -s s.npy hs.npy && ok "hand-written per-tensor qparams" || bad "hand-written per-tensor qparams"
$CQ quantize x.npy -o hg.npy --load-qparams hand_pg.json >/dev/null && $CQ dequantize hg.npy --qparams hand_pg.json -o hgy.npy >/dev/null &&
  $PY -c "
import numpy as np; x=np.load('x.npy'); q=np.load('hg.npy'); y=np.load('hgy.npy')
assert np.array_equal(q, np.clip(np.rint(x/np.float32(0.01)),-128,127)) and np.array_equal(y, q.astype(np.float32)*np.float32(0.01))" &&
  ok "hand-written per-group qparams" || bad "hand-written per-group qparams"
$CQ error x.npy y.npy --qparams qp.json >err.txt && grep -q "clipped" err.txt && ok "error command with the split" || bad "error command with the split"
# environment variables (src/core/env.c): CQUANT_ISA lowers the kernel level, an unknown value is ignored
CQUANT_ISA=ref $CQ --version | grep -q "kernels: ref" && ok "CQUANT_ISA=ref" || bad "CQUANT_ISA=ref"
[ "$(CQUANT_ISA=bogus $CQ --version)" = "$(env -u CQUANT_ISA $CQ --version)" ] && ok "CQUANT_ISA=bogus is ignored" || bad "CQUANT_ISA=bogus is ignored"
for c in dtypes quantize dequantize fake-quant error demo calibrate run eval; do
  $CQ $c --help | grep -q "usage: cquant $c" && ok "$c --help" || bad "$c --help"
done
$CQ dtypes | grep -q "| float32 | 1 | 8 | 23 | 1.17549e-38 | 3.40282e+38 | 1e-06 |" && ok "dtypes float32 row as in the seed" || bad "dtypes float32 row"
$CQ dtypes | grep -q "| float16 | 1 | 5 | 10 | 6.10352e-05 | 65504 | 0.001 |" && ok "dtypes float16 row as in the seed" || bad "dtypes float16 row"
$CQ dtypes | grep -q "| bfloat16 | 1 | 8 | 7 | 1.17549e-38 | 3.38953e+38 | 0.01 |" && ok "dtypes bfloat16 row as in the seed" || bad "dtypes bfloat16 row"
$CQ dtypes | grep -q "| int4 | 1 | 0 | 3 | -8 | 7 | 1 |" && ok "dtypes int4 row" || bad "dtypes int4 row"

# 4. bad input: one clear line, non-zero exit, no output
expect_fail "missing input file" o.npy $CQ quantize nope.npy -o o.npy
expect_fail "truncated .npy" o.npy $CQ quantize trunc.npy -o o.npy
expect_fail "not a .npy" o.npy $CQ quantize garbage.npy -o o.npy
expect_fail "float64 unsupported" o.npy $CQ quantize x64.npy -o o.npy
expect_fail "big-endian unsupported" o.npy $CQ quantize xbe.npy -o o.npy
expect_fail "Fortran order unsupported" o.npy $CQ quantize xf.npy -o o.npy
expect_fail "unknown dtype" o.npy $CQ quantize x.npy -o o.npy --dtype int7
expect_fail "float dtype is not a target" o.npy $CQ quantize x.npy -o o.npy --dtype float16
expect_fail "axis out of range" o.npy $CQ quantize x.npy -o o.npy --per-channel 2
expect_fail "negative axis" o.npy $CQ quantize x.npy -o o.npy --per-channel -1
expect_fail "group size does not divide" o.npy $CQ quantize x.npy -o o.npy --per-group 1:32
expect_fail "group size zero" o.npy $CQ quantize x.npy -o o.npy --per-group 1:0
expect_fail "zero scale" o.npy $CQ quantize x.npy -o o.npy --scale 0
expect_fail "negative scale" o.npy $CQ quantize x.npy -o o.npy --scale -0.5
expect_fail "NaN scale" o.npy $CQ quantize x.npy -o o.npy --scale nan
expect_fail "zero-point out of range" o.npy $CQ quantize x.npy -o o.npy --scale 0.1 --zero-point 300
expect_fail "NaN in input" o.npy $CQ quantize nan.npy -o o.npy
expect_fail "Inf in input" o.npy $CQ fake-quant inf.npy -o o.npy
expect_fail "unknown option" o.npy $CQ quantize x.npy -o o.npy --frobnicate
expect_fail "no output given" o.npy $CQ quantize x.npy
expect_fail "pack on int8" o.npy $CQ quantize x.npy -o o.npy --pack
expect_fail "dequantize without qparams" o.npy $CQ dequantize q.npy -o o.npy
expect_fail "dequantize shape mismatch" o.npy $CQ dequantize x16.npy --qparams qp.json -o o.npy
expect_fail "dequantize value out of range" o.npy bash -c "$CQ quantize q4bad.npy -o /dev/null 2>/dev/null; printf '{\"dtype\":\"int4\",\"granularity\":\"per_tensor\",\"shape\":[3],\"scale\":[0.5],\"zero_point\":[0]}' > q4.json; $CQ dequantize q4bad.npy --qparams q4.json -o o.npy"
expect_fail "qparams per_tensor with an axis" o.npy $CQ quantize x.npy -o o.npy --load-qparams bad_pt.json
grep -q 'per_tensor.*contradicts.*axis' stderr.txt && ok "says per_tensor contradicts axis" || bad "says per_tensor contradicts axis ($(cat stderr.txt))"
expect_fail "qparams scale count vs axis length" o.npy $CQ dequantize q.npy --qparams bad_cnt.json -o o.npy
grep -q '63 entries, axis 0 of the tensor has length 64' stderr.txt && ok "says scale count vs axis length" || bad "says scale count vs axis length ($(cat stderr.txt))"
expect_fail "qparams shape differs from the tensor" o.npy $CQ dequantize q.npy --qparams bad_shape.json -o o.npy
expect_fail "packed qparams without shape" o.npy $CQ dequantize q.npy --qparams bad_pk.json -o o.npy
expect_fail "malformed qparams json" o.npy bash -c "echo '{oops' > broken.json; $CQ dequantize q.npy --qparams broken.json -o o.npy"
expect_fail "error: shapes differ" o.npy $CQ error x.npy empty.npy
expect_fail "unknown command" o.npy $CQ frobnicate
expect_fail "output folder missing" nodir/o.npy $CQ quantize x.npy -o nodir/o.npy

# 5. calibrate: streamed batches, --json that quantize --load-qparams reads, --plot, bad input
$PY - <<'PY'
import numpy as np
rng = np.random.default_rng(5)
for i in range(3):
    b = rng.standard_normal((8, 500)).astype(np.float32); b[0, :3] *= 40
    np.save(f"b{i}.npy", b)
np.save("b_other.npy", rng.standard_normal((4, 7, 9)).astype(np.float32))
np.save("b_chan.npy", rng.standard_normal((6, 500)).astype(np.float32))
n = rng.standard_normal((8, 500)).astype(np.float32); n[1, 1] = np.nan; n[2, 2] = np.inf; np.save("b_nan.npy", n)
np.save("b_empty.npy", np.zeros((0, 500), np.float32))
PY
for m in minmax ema percentile entropy mse; do
  $CQ calibrate b0.npy b1.npy b2.npy b_other.npy --method $m --json cal_$m.json --plot cal_$m.svg >cal.txt 2>&1 &&
    grep -q "chosen range" cal.txt && grep -q "SQNR" cal.txt && grep -q "<svg" cal_$m.svg && grep -q "chosen range" cal_$m.svg &&
    $CQ quantize b0.npy -o cq.npy --load-qparams cal_$m.json >/dev/null &&
    $PY -c "
import json, numpy as np
qp = json.load(open('cal_$m.json')); q = np.load('cq.npy'); x = np.load('b0.npy')
assert qp['calibration']['method'] == '$m' and qp['calibration']['batches'] == 4
assert np.array_equal(q, np.clip(np.rint(x / np.float32(qp['scale'][0])), -128, 127))" &&
    ok "calibrate --method $m (json, plot, reused by quantize)" || bad "calibrate --method $m"
done
$CQ calibrate b0.npy b1.npy --method mse --per-channel 0 --dtype int4 --json pc.json >/dev/null && $PY -c "
import json; qp = json.load(open('pc.json')); assert qp['granularity'] == 'per_channel' and len(qp['scale']) == 8" &&
  ok "calibrate per-channel mse int4" || bad "calibrate per-channel mse int4"
$CQ calibrate b0.npy b_nan.npy --method percentile >cal.txt 2>err.txt && grep -q "2 NaN/Inf skipped" cal.txt && grep -q "warning" err.txt &&
  ok "calibrate skips and counts NaN/Inf" || bad "calibrate skips and counts NaN/Inf"
$CQ quantize b0.npy -o cq.npy --calib entropy >cal.txt && grep -q "SQNR" cal.txt && ok "quantize --calib entropy" || bad "quantize --calib entropy"
expect_fail "calibrate: percentile above 100" o.json $CQ calibrate b0.npy --method percentile --percentile 100.5 --json o.json
expect_fail "calibrate: percentile zero" o.json $CQ calibrate b0.npy --method percentile --percentile 0 --json o.json
expect_fail "calibrate: unknown method" o.json $CQ calibrate b0.npy --method kl --json o.json
expect_fail "calibrate: empty batch" o.json $CQ calibrate b0.npy b_empty.npy --json o.json
expect_fail "calibrate: mixed shapes per-channel" o.json $CQ calibrate b0.npy b_chan.npy --per-channel 0 --json o.json
expect_fail "calibrate: entropy per-channel" o.json $CQ calibrate b0.npy --method entropy --per-channel 0 --json o.json
expect_fail "calibrate: missing file" o.json $CQ calibrate b0.npy nope.npy --json o.json
expect_fail "calibrate: no files" o.json $CQ calibrate --method mse --json o.json
expect_fail "quantize --calib per-group" o.npy $CQ quantize b0.npy -o o.npy --calib mse --per-group 1:100

# 6. cquant run: an ONNX node test through the CLI, and bad models/inputs
ND=/usr/share/libonnx-testdata/data/node
mkdir -p runout
T3=$ND/test_qlinearmatmul_3D/test_data_set_0
if $CQ run $ND/test_qlinearmatmul_3D/model.onnx --input a=$T3/input_0.pb --input a_scale=$T3/input_1.pb --input a_zero_point=$T3/input_2.pb \
     --input b=$T3/input_3.pb --input b_scale=$T3/input_4.pb --input b_zero_point=$T3/input_5.pb --input y_scale=$T3/input_6.pb \
     --input y_zero_point=$T3/input_7.pb --output-dir runout >/dev/null &&
   $PY -c "
import numpy as np, onnx
from onnx import numpy_helper
want = numpy_helper.to_array(onnx.load_tensor('$T3/output_0.pb'))
got = np.load('runout/y.npy')
assert got.dtype == want.dtype and np.array_equal(got, want)"; then ok "run: QLinearMatMul 3-D equals ONNX's expected output"; else bad "run: QLinearMatMul 3-D"; fi
QIN="--input a=$T3/input_0.pb --input a_scale=$T3/input_1.pb --input a_zero_point=$T3/input_2.pb --input b=$T3/input_3.pb \
  --input b_scale=$T3/input_4.pb --input b_zero_point=$T3/input_5.pb --input y_scale=$T3/input_6.pb --input y_zero_point=$T3/input_7.pb"
if $CQ run $ND/test_qlinearmatmul_3D/model.onnx $QIN --output-dir runout --profile 2>prof.txt >/dev/null &&
   grep -Eq '^profile: y +QLinearMatMul +[0-9]+\.[0-9]{3} ms$' prof.txt && [ "$(wc -l <prof.txt)" -eq 1 ] &&
   CQUANT_PROFILE=1 $CQ run $ND/test_qlinearmatmul_3D/model.onnx $QIN --output-dir runout 2>prof.txt >/dev/null &&
   grep -q '^profile: y ' prof.txt && $CQ run $ND/test_qlinearmatmul_3D/model.onnx $QIN --output-dir runout 2>prof.txt >/dev/null &&
   ! grep -q profile prof.txt; then ok "run: --profile and CQUANT_PROFILE=1 print one line per node, nothing without them"
else bad "run: --profile"; fi
if $CQ run $ND/test_qlinearmatmul_3D/model.onnx $QIN --output-dir runout --repeat 3 2>rep.txt >/dev/null &&
   [ "$(grep -Ec '^run [1-3]: [0-9]+\.[0-9]{3} ms$' rep.txt)" -eq 3 ] && [ "$(wc -l <rep.txt)" -eq 3 ] &&
   $PY -c "
import numpy as np, onnx
from onnx import numpy_helper
assert np.array_equal(np.load('runout/y.npy'), numpy_helper.to_array(onnx.load_tensor('$T3/output_0.pb')))"; then
  ok "run: --repeat 3 prints three run times and writes the last run's outputs"
else bad "run: --repeat"; fi
expect_fail "run: --repeat 0 is refused" runout/none.npy $CQ run $ND/test_qlinearmatmul_3D/model.onnx $QIN --output-dir runout --repeat 0
$PY - <<'PY'
import numpy as np, onnx
from onnx import helper, TensorProto
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
g = helper.make_graph([helper.make_node("StringNormalizer", ["x"], ["y"], name="my_strnorm")], "g", [x], [y])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "erf.onnx")
xa = helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 1, 4, 4])
wa = helper.make_tensor_value_info("w", TensorProto.UINT8, [1, 1, 2, 2])
ya = helper.make_tensor_value_info("y", TensorProto.INT32, None)
g = helper.make_graph([helper.make_node("ConvInteger", ["x", "w"], ["y"], name="conv0", auto_pad="FOO")], "g", [xa, wa], [ya])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 10)]), "badpad.onnx")
a = helper.make_tensor_value_info("A", TensorProto.UINT8, [2, 3])
b = helper.make_tensor_value_info("B", TensorProto.UINT8, [4, 2])
ym = helper.make_tensor_value_info("Y", TensorProto.INT32, None)
g = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B"], ["Y"], name="mm0")], "g", [a, b], [ym])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 10)]), "mm.onnx")
np.save("A.npy", np.ones((2, 3), np.uint8)); np.save("B.npy", np.ones((4, 2), np.uint8)); np.save("Af.npy", np.ones((2, 3), np.float32))
np.save("x44.npy", np.ones((1, 1, 4, 4), np.uint8)); np.save("w22.npy", np.ones((1, 1, 2, 2), np.uint8))
g = helper.make_graph([helper.make_node("ConstantOfShape", ["s"], ["y"], name="cos")], "g", [helper.make_tensor_value_info("s", TensorProto.INT64, [3])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "cos.onnx")
np.save("big.npy", np.array([1 << 30, 1 << 30, 1 << 30], np.int64))
PY
head -c 3000 /dev/urandom > garbage.onnx
expect_fail "run: malformed protobuf" runout/y.npy $CQ run garbage.onnx --output-dir runout
expect_fail "run: unsupported operator names the node" runout/y.npy bash -c "$CQ run erf.onnx --input x=Af.npy --output-dir runout 2>&1 >/dev/null | grep -q my_strnorm && $CQ run erf.onnx --input x=Af.npy --output-dir runout"
expect_fail "run: unsupported attribute value" runout/y.npy $CQ run badpad.onnx --input x=x44.npy --input w=w22.npy --output-dir runout
expect_fail "run: shape mismatch" runout/Y.npy $CQ run mm.onnx --input A=A.npy --input B=B.npy --output-dir runout
expect_fail "run: wrong input type" runout/Y.npy $CQ run mm.onnx --input A=Af.npy --input B=B.npy --output-dir runout
expect_fail "run: missing input" runout/Y.npy $CQ run mm.onnx --input A=A.npy --output-dir runout
expect_fail "run: unknown input name" runout/Y.npy $CQ run mm.onnx --input A=A.npy --input B=B.npy --input C=B.npy --output-dir runout
expect_fail "run: a shape of 2^90 elements is refused, naming the node" runout/y.npy bash -c "$CQ run cos.onnx --input s=big.npy --output-dir runout 2>&1 >/dev/null | grep -q \"node 'cos'\" && $CQ run cos.onnx --input s=big.npy --output-dir runout"
rm -rf newdir
$PY -c "import numpy as np; np.save('B32.npy', np.ones((3, 2), np.uint8))"
if $CQ run mm.onnx --input A=A.npy --input B=B32.npy --output-dir newdir/a/b >/dev/null 2>stderr.txt && [ -f newdir/a/b/Y.npy ]; then ok "run: creates a nested output folder"
else bad "run: creates a nested output folder ($(head -c 300 stderr.txt))"; fi
expect_fail "run: output folder under a file" A.npy/sub/Y.npy $CQ run mm.onnx --input A=A.npy --input B=B32.npy --output-dir A.npy/sub

# 7. a failing run leaves an existing output untouched
cp q.npy keep.npy
$CQ quantize nan.npy -o keep.npy 2>/dev/null
cmp -s q.npy keep.npy && ok "failed run keeps the old output" || bad "failed run keeps the old output"

# 8. cquant ops lists what the executor runs, and docs/onnx.md names every one of them
n_ops=$($CQ ops | wc -l); missing=""
while read -r dom op; do grep -q "\b$op\b" "$DOC" || missing="$missing $dom.$op"; done < <($CQ ops)
if [ "$n_ops" -gt 150 ] && [ -z "$missing" ]; then ok "ops: $n_ops operators, all in docs/onnx.md"
else bad "ops: $n_ops operators; not in docs/onnx.md:$missing"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
