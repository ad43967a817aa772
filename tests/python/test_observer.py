"""Observer equals `cquant calibrate` on the same batches: the same parameters and range."""
import json

import numpy as np
import pytest

import cquant
from conftest import GOLDEN

MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
STREAMS = [c for c in MANIFEST["cases"] if c["op"] == "observer_stream"][:3]

CONFIGS = [
    ("minmax", {}, []),
    ("ema", {}, []),
    ("percentile", {"percentile": 99.9}, ["--percentile", "99.9"]),
    ("entropy", {}, []),
    ("mse", {"dtype": "uint8"}, ["--dtype", "uint8"]),
    ("entropy", {"dtype": "int4", "bins": 512}, ["--dtype", "int4", "--bins", "512"]),
    ("minmax", {"dtype": "uint8", "symmetric": True, "narrow_range": False}, ["--dtype", "uint8", "--symmetric"]),
    ("mse", {"axis": 0}, ["--per-channel", "0"]),
]


@pytest.mark.parametrize("case", STREAMS, ids=lambda c: c["batches"][0])
@pytest.mark.parametrize("cfg", range(len(CONFIGS)))
def test_equals_calibrate(cli, tmp_path, case, cfg):
    method, kw, args = CONFIGS[cfg]
    files = [GOLDEN / b for b in case["batches"]]
    o = cquant.Observer(method, **kw)
    for f in files:
        o.update(np.load(f))
    qp = o.qparams()
    cli("calibrate", *files, "--method", method, *args, "--json", tmp_path / "c.json")
    doc = json.loads((tmp_path / "c.json").read_text())
    assert qp.scale.ravel().tolist() == np.float32(doc["scale"]).ravel().tolist()
    assert qp.zero_point.ravel().tolist() == doc["zero_point"]
    assert list(qp.shape) == doc["shape"]
    lo, hi = o.range()
    assert np.all(np.asarray(lo) <= np.asarray(hi))


def test_merge_equals_one_observer():
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((64, 10)).astype(np.float32) for _ in range(4)]
    one, a, b = (cquant.Observer("entropy") for _ in range(3))
    for x in batches:
        one.update(x)
    for x in batches[:2]:
        a.update(x)
    for x in batches[2:]:
        b.update(x)
    a.merge(b)
    assert a.range() == one.range()
    assert a.qparams().to_json() == one.qparams().to_json()
    assert a.qparams(shape=(3, 5)).shape == (3, 5)
    e = cquant.Observer("ema")
    e.update(batches[0])
    with pytest.raises(ValueError):
        e.merge(cquant.Observer("ema"))


def test_per_channel_range_and_stats():
    x = np.stack([np.linspace(-k, k, 50, dtype=np.float32) for k in (1, 2, 3)])
    o = cquant.Observer("minmax", axis=0)
    o.update(x)
    lo, hi = o.range()
    assert lo.tolist() == [-1, -2, -3] and hi.tolist() == [1, 2, 3]
    assert o.qparams().scale.shape == (3, 1)
    x[0, 0] = np.nan
    o.update(x)
    s = o.stats()
    assert s["batches"] == 2 and s["nonfinite"] == 1 and s["channels"] == 3


def test_observer_errors():
    with pytest.raises(ValueError):
        cquant.Observer("nosuch")
    with pytest.raises(ValueError):
        cquant.Observer("entropy", axis=0)  # histogram methods are per-tensor
    with pytest.raises(ValueError):
        cquant.Observer("percentile", percentile=150)
    with pytest.raises(ValueError):
        cquant.Observer("minmax", dtype="fp8e4m3")
    with pytest.raises(ValueError):
        cquant.Observer("minmax", axis=-1)
    o = cquant.Observer("minmax")
    with pytest.raises(ValueError):
        o.qparams()  # nothing observed
    with pytest.raises(TypeError):
        o.update(np.zeros(4, dtype=np.int32))
    with pytest.raises(TypeError):
        o.update(None)
    with pytest.raises(ValueError):
        o.update(np.zeros(0, dtype=np.float32))
    with pytest.raises(TypeError):
        o.merge(42)
