#!/usr/bin/python3
"""The part of the model zoo (tools/zoo) that fits in the default test suite: small real exporter
output from torch.onnx.export (torch 1.13) at opset 13, each also with float16 weights behind Cast:
mobilenet_v3_small (1x3x96x96), squeezenet1_1 (1x3x96x96), a 2-layer bidirectional nn.LSTM, a GPT-style
causal LM (triangular mask, int64 ids), a BERT-style encoder (int64 ids, bool attention mask) and a
U-Net (ceil_mode MaxPool, ConvTranspose, Resize). cquant's float executor must agree with ONNX Runtime
on every output within 1e-4 of the output's largest magnitude (where ONNX Runtime's optimized graph
differs, its unoptimized run and PyTorch's own outputs decide, then the graph evaluated in float64:
judge in tools/zoo/zoo_common.py; tests/zoo_compare_test.py tests those rules). The
models are generated once into the build tree (BUILD/zoo_test, regenerated when tools/zoo/gen_zoo.py
changes). Skipped (77) without
python3-torch/python3-torchvision or onnxruntime-node. scripts/zoo runs the whole zoo.

usage: zoo_test.py PATH/TO/cquant
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "zoo"))
CQ = os.path.abspath(sys.argv[1])
MODELS = "mobilenet_v3_small,squeezenet1_1,lstm,gpt,bert,unet"


def skip(why):
    print("skipped: " + why)
    sys.exit(77)  # CTest: SKIP_RETURN_CODE


try:
    import torch  # noqa: F401
    import torchvision  # noqa: F401
except ImportError as e:
    skip(f"PyTorch/torchvision are not installed ({e}); scripts/setup --zoo installs python3-torch and python3-torchvision")
import zoo_common as zc  # noqa: E402

if not zc.HAVE_ORT or not shutil.which("node"):
    skip("onnxruntime-node is not installed (scripts/setup installs it from the npm registry)")

zoo = os.path.join(os.path.dirname(CQ), "zoo_test")
gen = os.path.join(ROOT, "tools", "zoo", "gen_zoo.py")
manifest = os.path.join(zoo, "manifest.json")
if not os.path.exists(manifest) or os.path.getmtime(manifest) < os.path.getmtime(gen):
    shutil.rmtree(zoo, ignore_errors=True)
    r = subprocess.run([sys.executable, gen, zoo, "--models", MODELS, "--opsets", "13", "--size", "96", "--fp16"],
                       capture_output=True, text=True)
    print(r.stdout.strip())
    if r.returncode:
        print(r.stderr)
        print("FAIL gen_zoo.py")
        sys.exit(1)
folder, entries = zc.load_manifest(zoo)
tmp = tempfile.mkdtemp(prefix="cquant_zoo_test.")
passed = failed = 0
for e in entries:
    key = f"{e['name']} opset {e['opset']} {e['variant']}"
    if e.get("status") != "ok":
        print(f"FAIL {key}: export failed: {e.get('error')}")
        failed += 1
        continue
    cdir, odir = os.path.join(tmp, e["file"] + ".c"), os.path.join(tmp, e["file"] + ".o")
    okc, cms, _, crss, cerr = zc.run_cquant(CQ, folder, e, cdir, timeout=120)
    oko, oms, _, _, _, oerr = zc.run_ort(folder, e, odir, timeout=120)
    if not oko:
        problem = "ONNX Runtime failed: " + oerr
    elif not okc:
        problem = zc.short_error(cerr, os.path.join(folder, e["file"]))
    else:
        rel, problem, note = zc.judge(folder, e, cdir, odir, timeout=120, cq=CQ)
    if problem:
        failed += 1
        print(f"FAIL {key}: {problem}", flush=True)
    else:
        passed += 1
        print(f"ok   {key}: max relative difference {rel:.2e} against ONNX Runtime ({cms:.1f} ms, ORT {oms[0]:.1f} ms)"
              + (f" ({note})" if note else ""), flush=True)
shutil.rmtree(tmp, ignore_errors=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
