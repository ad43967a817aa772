"""cquant.ptq with numpy batches writes the same file byte for byte as `cquant ptq` on the same batches
saved as a folder of .npy files; ONNX Runtime loads it; cquant.run equals `cquant run`."""
import gzip
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import cquant
from conftest import MODELS, SOURCE_DIR

MODEL = MODELS / "fmnist_cnn.onnx"
DATASET = "/usr/share/datasets/fashion-mnist"
MEAN, STD = np.float32(0.286), np.float32(0.353)  # the model's cquant.mean / cquant.std metadata


def images(split="train", n=500):
    p = f"{DATASET}/{'train' if split == 'train' else 't10k'}"
    with gzip.open(f"{p}-images-idx3-ubyte.gz") as f:
        im = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 1, 28, 28)
    with gzip.open(f"{p}-labels-idx1-ubyte.gz") as f:
        lb = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
    # as cquant's loader: (pixel / 255 - mean) / std in float32
    return (im.astype(np.float32) / np.float32(255) - MEAN) / STD, lb


@pytest.fixture(scope="module")
def batches():
    if not MODEL.exists() or not os.path.exists(DATASET):
        pytest.skip("models/fmnist_cnn.onnx or Debian's fashion-mnist missing")
    x, _ = images()
    return [np.ascontiguousarray(x[i : i + 100]) for i in range(0, 500, 100)]


@pytest.fixture(scope="module")
def folder(batches, tmp_path_factory):
    d = tmp_path_factory.mktemp("calib")
    for i, b in enumerate(batches):
        np.save(d / f"b{i}.npy", b)
    return d


CASES = [
    ({}, []),
    ({"act_method": "entropy", "weights": "int4", "symmetric_act": True}, ["--act-method", "entropy", "--weights", "int4", "--symmetric-act"]),
    ({"act_method": ["percentile"], "percentile": 99.9, "format": "qop"}, ["--act-method", "percentile", "--percentile", "99.9", "--format", "qop"]),
    ({"smooth": 0.5, "bias_correction": True, "cle": True}, ["--smooth", "0.5", "--bias-correction", "--cle"]),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_same_file_as_cli(cli, tmp_path, batches, folder, case):
    kw, args = CASES[case]
    rep = cquant.ptq(str(MODEL), batches, tmp_path / "py.onnx", report=str(tmp_path / "py.json"), **kw)
    cli("ptq", MODEL, "--calib", folder, "-o", tmp_path / "cli.onnx", "--report", tmp_path / "cli.json", *args)
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    assert (tmp_path / "py.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    want = json.loads((tmp_path / "cli.json").read_text())
    assert {k: rep[k] for k in want} == want
    assert rep["calib_samples"] == 500 and rep["output_bytes"] == (tmp_path / "cli.onnx").stat().st_size
    # the same batches as a folder spec, and as (batch, labels) tuples and {input: batch} dicts
    cquant.ptq(MODEL, str(folder), tmp_path / "spec.onnx", **kw)
    assert (tmp_path / "spec.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    if case == 0:
        cquant.ptq(MODEL, [{"input": b} for b in batches], tmp_path / "d.onnx")
        cquant.ptq(MODEL, [(b, np.zeros(len(b), np.int64)) for b in batches], tmp_path / "t.onnx")
        assert (tmp_path / "d.onnx").read_bytes() == (tmp_path / "t.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()


def test_eval_and_choice_equal_cli(cli, tmp_path, batches, folder):
    x, y = images("test", 300)
    ev = [(x[i : i + 100], y[i : i + 100]) for i in range(0, 300, 100)]
    rep = cquant.ptq(MODEL, batches, tmp_path / "py.onnx", act_method=["minmax", "entropy"], eval=ev)
    out = cli("ptq", MODEL, "--calib", folder, "-o", tmp_path / "cli.onnx", "--act-method", "minmax,entropy", "--eval", "fashion-mnist:test:300")
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    assert rep["chosen_method"] in out and "top1" in rep and rep["top1"]["float"] > 80
    # each method's figures as the CLI prints them, and the choice of eq. M1 made from them
    ms = rep["methods"]
    assert [m["method"] for m in ms] == ["minmax", "entropy"]
    for m in ms:
        assert f"integer {m['method']}" in out and f"{m['integer_top1']:.2f}%" in out
        assert abs((m["integer_top1"] - max(n["integer_top1"] for n in ms)) * 3 - (m["won"] - m["lost"])) < 1e-9  # 300 samples
    close = [m for m in ms if m["p"] >= 0.05]
    want = max(close, key=lambda m: m["integer_sqnr_db"])["method"] if len(close) > 1 else close[0]["method"]
    assert rep["chosen_method"] == want and all(("integer_sqnr_db" in m) == (len(close) > 1 and m in close) for m in ms)


def test_eval_labels_file(cli, tmp_path, batches):
    """eval_labels: a .npy of class ids for an eval .npy without labels gives the same file, choice and
    top-1s as the same samples with their labels; a labels file for data that has labels is an error."""
    x, y = images("test", 300)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y.astype(np.int32))
    kw = dict(act_method=["entropy", "minmax"])
    a = cquant.ptq(MODEL, batches, tmp_path / "a.onnx", eval=[(x[i : i + 100], y[i : i + 100]) for i in range(0, 300, 100)], **kw)
    b = cquant.ptq(MODEL, batches, tmp_path / "b.onnx", eval=str(tmp_path / "x.npy"), eval_labels=tmp_path / "y.npy", **kw)
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert a["chosen_method"] == b["chosen_method"] and a["top1"] == b["top1"]
    with pytest.raises(ValueError, match="already has labels"):
        cquant.ptq(MODEL, batches, tmp_path / "c.onnx", eval="fashion-mnist:test:100", eval_labels=tmp_path / "y.npy")
    with pytest.raises(ValueError, match="needs eval"):
        cquant.ptq(MODEL, batches, tmp_path / "c.onnx", eval_labels=tmp_path / "y.npy")
    assert not (tmp_path / "c.onnx").exists()


@pytest.mark.parametrize("exec_", ["float", "int"])
def test_eval_equals_cli(cli, tmp_path, batches, exec_):
    """cquant.eval gives `cquant eval`'s top-1 and --predictions, float and integer execution of a
    quantized file; the same from a spec, a .npy with labels= and an iterable of (batch, labels)."""
    q = tmp_path / "q.onnx"
    cquant.ptq(MODEL, batches, q)
    out = cli("eval", q, "--data", "fashion-mnist:test:300", "--exec", exec_, "--predictions", tmp_path / "p.bin")
    r = cquant.eval(q, "fashion-mnist:test:300", exec=exec_)
    assert f"({r['correct']} of 300)" in out and r["n"] == 300 and r["top1"] == 100.0 * r["correct"] / 300
    assert np.array_equal(r["predictions"], np.frombuffer((tmp_path / "p.bin").read_bytes(), np.uint8).astype(np.int32))
    x, y = images("test", 300)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y.astype(np.uint8))
    r2 = cquant.eval(q, tmp_path / "x.npy", labels=tmp_path / "y.npy", exec=exec_)
    r3 = cquant.eval(q, [(x[i : i + 75], y[i : i + 75]) for i in range(0, 300, 75)], exec=exec_)
    assert r2["correct"] == r3["correct"] == r["correct"] and np.array_equal(r2["predictions"], r["predictions"])
    assert r3["predictions"] is None  # an iterable's size is not known in advance
    with pytest.raises(ValueError, match="no labels"):
        cquant.eval(q, tmp_path / "x.npy", exec=exec_)
    with pytest.raises(ValueError, match="exec must be"):
        cquant.eval(q, "fashion-mnist:test:10", exec="integer")


def test_max_drop_fallback(tmp_path, batches):
    """max_drop: the layers kept in float, at most L + 10 evaluations, every layer's sensitivity in the report."""
    x, y = images("test", 300)
    ev = [(x[i : i + 100], y[i : i + 100]) for i in range(0, 300, 100)]
    rep = cquant.ptq(MODEL, batches, tmp_path / "md.onnx", weights="int4", eval=ev, max_drop=0.0)
    fb, layers = rep["fallback"], rep["layers"]
    assert fb["evaluations"] <= len(layers) + 10
    assert sorted(l["sensitivity"]["rank"] for l in layers) == list(range(len(layers)))
    assert {l["node"] for l in layers if l["excluded"]} == set(fb["float_layers"])
    assert not fb["met"] or rep["top1"]["float"] - rep["top1"]["integer"] <= 0.0


def test_ort_loads_the_file(tmp_path, batches):
    if not (SOURCE_DIR / "tools/ort/node_modules/onnxruntime-node").exists() or not shutil.which("node"):
        pytest.skip("tools/ort/node_modules (onnxruntime-node) missing: run scripts/setup")
    cquant.ptq(MODEL, batches, tmp_path / "m.onnx")
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # the sanitizer pass preloads ASan for Python only
    p = subprocess.run(["node", str(SOURCE_DIR / "tools/ort/eval.js"), str(tmp_path / "m.onnx"), "--n", "100"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("exec_", ["float", "int"])
def test_run_equals_cli(cli, tmp_path, batches, exec_):
    model = tmp_path / "q.onnx"
    cquant.ptq(MODEL, batches, model)
    x = batches[0][:7]
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "o").mkdir()
    out = cquant.run(str(model), {"input": x}, exec=exec_)
    cli("run", model, "--input", f"input={tmp_path / 'x.npy'}", "--output-dir", tmp_path / "o", "--exec", exec_)
    assert set(out) == {p.stem for p in (tmp_path / "o").iterdir()}
    for k, v in out.items():
        ref = np.load(tmp_path / "o" / f"{k}.npy")
        assert v.dtype == ref.dtype and v.shape == ref.shape and v.tobytes() == ref.tobytes()
    f = cquant.run(MODEL, {"input": x})
    assert next(iter(f.values())).shape == (7, 10)


def test_ptq_errors(tmp_path, batches):
    with pytest.raises(OSError):
        cquant.ptq(tmp_path / "none.onnx", batches, tmp_path / "o.onnx")
    with pytest.raises(OSError):
        cquant.ptq(MODEL, str(tmp_path / "nofolder"), tmp_path / "o.onnx")
    with pytest.raises(ValueError):
        cquant.ptq(MODEL, batches, tmp_path / "o.onnx", weights="int3")
    with pytest.raises(ValueError):
        cquant.ptq(MODEL, batches, tmp_path / "o.onnx", act_method=["minmax", "entropy"])  # needs eval
    with pytest.raises(ValueError):
        cquant.ptq(MODEL, batches, tmp_path / "o.onnx", act_method="nosuch")
    with pytest.raises(ValueError):
        cquant.ptq(MODEL, [np.zeros((2, 3), np.float32)], tmp_path / "o.onnx")  # wrong shape
    with pytest.raises(TypeError):
        cquant.ptq(MODEL, [b.astype(np.float64) for b in batches], tmp_path / "o.onnx")
    with pytest.raises(TypeError):
        cquant.ptq(MODEL, 42, tmp_path / "o.onnx")

    class Boom(Exception):
        pass

    def gen():
        yield batches[0]
        raise Boom("from the iterable")

    with pytest.raises(Boom, match="from the iterable"):
        cquant.ptq(MODEL, gen(), tmp_path / "o.onnx")
    with pytest.raises(ValueError, match="smooth"):
        cquant.ptq(MODEL, batches, tmp_path / "o.onnx", smooth=1.5)
    with pytest.raises(Exception, match="read once"):  # SmoothQuant reads the calibration data twice
        cquant.ptq(MODEL, (b for b in batches), tmp_path / "o.onnx", smooth=0.5)
    assert not (tmp_path / "o.onnx").exists()
    with pytest.raises(ValueError):
        cquant.run(MODEL, {"input": batches[0]}, exec="fast")
    with pytest.raises(ValueError):
        cquant.run(MODEL, {})
    with pytest.raises(TypeError):
        cquant.run(MODEL, {"input": "text"})
