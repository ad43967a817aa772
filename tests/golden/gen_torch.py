#!/usr/bin/python3
"""Generates the PyTorch golden vectors in tests/golden/torch/ (checked in).

Run with Debian's python3-torch (1.13):  /usr/bin/python3 tests/golden/gen_torch.py
It writes one .npy per array and manifest.json describing every case, stamped with the torch
version that made it. tests/test_golden_torch.c compares cquant with these exactly (integers) and
within 1 ulp (scales).
"""
import json
import os
import sys

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(1234)
rng = np.random.default_rng(1234)
cases = []


def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(arr))
    return name + ".npy"


def data(shape, kind):
    n = int(np.prod(shape))
    if kind == "gauss":
        x = rng.standard_normal(n) * 1.7
    elif kind == "positive":
        x = np.abs(rng.standard_normal(n)) * 3 + 0.25
    elif kind == "negative":
        x = -np.abs(rng.standard_normal(n)) * 0.8 - 0.1
    elif kind == "skewed":
        x = rng.laplace(0.4, 0.6, n)
    elif kind == "zeros":
        x = np.zeros(n)
    else:
        raise ValueError(kind)
    return x.astype(np.float32).reshape(shape)


DT = {"qint8": (torch.qint8, -128, 127), "quint8": (torch.quint8, 0, 255)}

# quantize_per_tensor: the integers, for scales/zero-points that make ties likely
for i, (scale, zp, dt) in enumerate([(0.0235, 3, "qint8"), (0.1, 128, "quint8"), (0.05, 0, "qint8"),
                                     (0.0078125, -5, "qint8"), (0.013, 17, "quint8")]):
    x = data((4096,), "gauss")
    x[:64] = (np.arange(64) - 32 + 0.5).astype(np.float32) * np.float32(scale)  # near-ties
    q = torch.quantize_per_tensor(torch.from_numpy(x), scale, zp, DT[dt][0]).int_repr().numpy()
    cases.append({"op": "quantize_per_tensor", "x": save(f"qpt{i}_x", x), "q": save(f"qpt{i}_q", q),
                  "scale": float(np.float32(scale)), "zero_point": zp, "dtype": dt})

# quantize_per_channel
for i, (shape, axis, dt) in enumerate([((16, 64), 0, "qint8"), ((8, 16, 5), 1, "quint8"), ((6, 33), 1, "qint8")]):
    x = data(shape, "gauss")
    c = shape[axis]
    scales = (rng.uniform(0.005, 0.05, c)).astype(np.float32)
    lo, hi = DT[dt][1], DT[dt][2]
    zps = rng.integers(lo, hi + 1, c) if dt == "quint8" else rng.integers(-20, 21, c)
    q = torch.quantize_per_channel(torch.from_numpy(x), torch.from_numpy(scales.astype(np.float64)),
                                   torch.from_numpy(zps.astype(np.int64)), axis, DT[dt][0]).int_repr().numpy()
    cases.append({"op": "quantize_per_channel", "x": save(f"qpc{i}_x", x), "q": save(f"qpc{i}_q", q),
                  "scales": save(f"qpc{i}_s", scales), "zero_points": save(f"qpc{i}_z", zps.astype(np.int32)),
                  "axis": axis, "dtype": dt})

# MinMaxObserver: scale and zero-point, symmetric and affine, full and custom (4-bit) ranges
obs_i = 0
for kind in ["gauss", "positive", "negative", "skewed", "zeros"]:
    for scheme in ["per_tensor_symmetric", "per_tensor_affine"]:
        for dt, qmin, qmax in [("qint8", None, None), ("quint8", None, None), ("qint8", -8, 7), ("quint8", 0, 15)]:
            x = data((1000,), kind)
            kw = {"dtype": DT[dt][0], "qscheme": getattr(torch, scheme)}
            if qmin is not None:
                kw.update(quant_min=qmin, quant_max=qmax)
            obs = torch.ao.quantization.MinMaxObserver(**kw)
            obs(torch.from_numpy(x))
            s, z = obs.calculate_qparams()
            cases.append({"op": "minmax_observer", "x": save(f"mm{obs_i}_x", x), "scheme": scheme, "dtype": dt,
                          "quant_min": qmin if qmin is not None else DT[dt][1],
                          "quant_max": qmax if qmax is not None else DT[dt][2],
                          "scale": float(s.item()), "zero_point": int(z.item())})
            obs_i += 1

# PerChannelMinMaxObserver
for i, (shape, axis, kind) in enumerate([((12, 40), 0, "gauss"), ((5, 7, 9), 1, "skewed"), ((30, 6), 1, "positive")]):
    for scheme in ["per_channel_symmetric", "per_channel_affine"]:
        for dt in ["qint8", "quint8"]:
            x = data(shape, kind)
            x[0] = 0  # one channel slice at zero somewhere
            obs = torch.ao.quantization.PerChannelMinMaxObserver(ch_axis=axis, dtype=DT[dt][0], qscheme=getattr(torch, scheme))
            obs(torch.from_numpy(x))
            s, z = obs.calculate_qparams()
            tag = f"pc{i}_{scheme[12:]}_{dt}"
            cases.append({"op": "per_channel_minmax_observer", "x": save(tag + "_x", x), "axis": axis, "scheme": scheme,
                          "dtype": dt, "scales": save(tag + "_s", s.numpy().astype(np.float32)),
                          "zero_points": save(tag + "_z", z.numpy().astype(np.int32))})

# Streaming observers: several batches through MinMaxObserver, MovingAverageMinMaxObserver,
# PerChannelMinMaxObserver and MovingAveragePerChannelMinMaxObserver (averaging_constant 0.01)
Q = torch.ao.quantization
for i, (cls, shape, axis) in enumerate([(Q.MinMaxObserver, (300,), None), (Q.MovingAverageMinMaxObserver, (40, 30), None),
                                        (Q.PerChannelMinMaxObserver, (8, 50), 0), (Q.MovingAveragePerChannelMinMaxObserver, (6, 9, 7), 1),
                                        (Q.MovingAveragePerChannelMinMaxObserver, (20, 16), 1), (Q.MovingAverageMinMaxObserver, (64,), None)]):
    for scheme_kind in ["symmetric", "affine"]:
        for dt in ["qint8", "quint8"]:
            per_channel = axis is not None
            scheme = getattr(torch, ("per_channel_" if per_channel else "per_tensor_") + scheme_kind)
            kw = {"dtype": DT[dt][0], "qscheme": scheme}
            if per_channel:
                kw["ch_axis"] = axis
            obs = cls(**kw)
            names = []
            for b in range(5):
                x = data(shape, ["gauss", "skewed", "positive"][b % 3]) * (1 + b)
                obs(torch.from_numpy(x))
                names.append(save(f"st{i}_{scheme_kind}_{dt}_b{b}", x))
            s, z = obs.calculate_qparams()
            tag = f"st{i}_{scheme_kind}_{dt}"
            cases.append({"op": "observer_stream", "observer": cls.__name__, "batches": names, "axis": -1 if axis is None else axis,
                          "scheme": scheme_kind, "dtype": dt, "ema": "MovingAverage" in cls.__name__,
                          "scales": save(tag + "_s", np.atleast_1d(s.numpy()).astype(np.float32)),
                          "zero_points": save(tag + "_z", np.atleast_1d(z.numpy()).astype(np.int32))})

# fake_quantize_per_tensor_affine
for i, (scale, zp, qmin, qmax) in enumerate([(0.02, 0, -128, 127), (0.031, 7, 0, 255), (0.25, 0, -8, 7),
                                              (0.11, 3, 0, 15), (0.5, -1, -2, 1)]):
    x = data((3000,), "gauss")
    x[:40] = (np.arange(40) - 20 + 0.5).astype(np.float32) * np.float32(scale)
    y = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), scale, zp, qmin, qmax).numpy()
    cases.append({"op": "fake_quantize_per_tensor_affine", "x": save(f"fq{i}_x", x), "y": save(f"fq{i}_y", y),
                  "scale": float(np.float32(scale)), "zero_point": zp, "quant_min": qmin, "quant_max": qmax})

manifest = {"generator": "tests/golden/gen_torch.py", "torch_version": torch.__version__,
            "numpy_version": np.__version__, "cases": cases}
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print(f"wrote {len(cases)} cases to {OUT} with torch {torch.__version__}", file=sys.stderr)
