#!/usr/bin/python3
"""An independent NumPy implementation of cquant's histogram calibration (docs/calibration.md):
the streaming power-of-two histogram, the fixed-width growing one of the entropy method, the percentile rules, and TensorRT's entropy (KL) search
written the way pytorch-quantization writes it (numpy.linspace / numpy.digitize / KL divergence).
It runs `cquant calibrate --json` on generated batches and checks the ranges cquant chose.

usage: calib_reference.py PATH/TO/cquant
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

CQ = sys.argv[1]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


class Hist:
    """Bins aligned to 0: bin k holds floor(x * inv) (float32 product), inv = inv0 * 2**-e2, in a
    window of bins [-cap/2, cap/2). Power-of-two widths (percentile, MSE): inv0 = 1, 2**e2 the
    smallest power of two with `target` |x| bins over the first batch, and values beyond the window
    double the width, bin k -> k // 2. Fixed width (entropy, eq. C9-C10): the first batch's
    max|x| / target is the width; values beyond the window double the window at that width until it
    reaches max_cap bins, and only then does the width double."""

    def __init__(self, cap, max_cap=None, fixed=False):
        self.cap, self.started, self.e2, self.kmin = cap, False, 0, -cap // 2
        self.max_cap, self.fixed, self.inv0 = max_cap or cap, fixed, np.float32(1.0)
        self.counts = np.zeros(cap, np.int64)

    def inv(self):
        return np.float32(np.ldexp(self.inv0, -self.e2))

    def width(self):
        return 2.0 ** self.e2 / float(self.inv0)

    def coarsen(self):
        k = np.arange(self.kmin, self.kmin + self.cap)
        new = np.zeros(self.cap, np.int64)
        np.add.at(new, k // 2 - self.kmin, self.counts)
        self.counts, self.e2 = new, self.e2 + 1

    def grow(self):
        new = np.zeros(2 * self.cap, np.int64)
        new[self.cap // 2 : self.cap // 2 + self.cap] = self.counts
        self.counts, self.cap, self.kmin = new, 2 * self.cap, -self.cap

    def cover(self, mn, mx):
        while True:
            lo = np.floor(np.float32(mn) * self.inv())
            hi = np.floor(np.float32(mx) * self.inv())
            if lo >= self.kmin and hi < self.kmin + self.cap:
                return
            if self.fixed and self.cap < self.max_cap:
                self.grow()
            else:
                self.coarsen()

    def add(self, x, target):
        x = x[np.isfinite(x)]
        if x.size == 0:
            return
        mn, mx = x.min(), x.max()
        if not self.started:
            amax = max(abs(float(mn)), abs(float(mx)))
            if self.fixed and amax > 0:
                self.inv0 = np.float32(1.0 / float(np.float32(amax) / np.float32(target)))
            else:
                e2 = math.ceil(math.log2(amax / target)) if amax > 0 else -126
                self.e2 = min(max(e2, -126), 100)
            self.started = True
        self.cover(mn, mx)
        k = np.floor(x * self.inv()).astype(np.int64) - self.kmin
        self.counts += np.bincount(k, minlength=self.cap)

    def fold(self):
        k = np.arange(self.kmin, self.kmin + len(self.counts))
        j = np.where(k >= 0, k, -k - 1)
        out = np.zeros(j.max() + 1, np.float64)
        np.add.at(out, j, self.counts)
        nz = np.nonzero(out)[0]
        return out[: nz[-1] + 1]


def entropy_divergences(hist, qbins, start=128):
    """TensorRT's search: for each cut-off i, KL(reference || quantized), as pytorch-quantization."""
    bins = hist.copy()
    bins[0] = bins[1]
    divs, args = [], []
    for i in range(start, len(bins) + 1):
        space = np.linspace(0, i, num=qbins + 1)
        dig = np.digitize(range(i), space) - 1
        nz = bins[:i] > 0
        q = np.bincount(dig[nz], weights=bins[:i][nz], minlength=qbins) / np.maximum(np.bincount(dig[nz], minlength=qbins), 1)
        new = np.where(nz, q[dig], 0.0)
        ref = bins[:i].copy()
        ref[-1] += bins[i:].sum()
        p, r = ref / ref.sum(), new / new.sum()
        m = p > 0
        divs.append(np.inf if np.any(r[m] == 0) else float(np.sum(p[m] * np.log(p[m] / r[m]))))
        args.append(i)
    return np.array(divs), np.array(args)


def run_cquant(files, *opts):
    out = os.path.join(tmp, "c.json")
    r = subprocess.run([CQ, "calibrate", *files, "--json", out, *opts], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    c = json.load(open(out))["calibration"]
    return np.float32(c["range_min"][0]), np.float32(c["range_max"][0])


rng = np.random.default_rng(11)
tmp = tempfile.mkdtemp(prefix="cquant_calref.")
datasets = {
    "gaussian": [rng.standard_normal(20000) for _ in range(3)],
    "laplace": [rng.laplace(0, 1, 30000) for _ in range(2)],
    "outliers": [np.concatenate([rng.standard_normal(20000), rng.standard_normal(20) * 50]) for _ in range(3)],
    "relu-like": [np.maximum(rng.standard_normal(25000), 0) * 3 for _ in range(2)],
    "growing": [rng.standard_normal(10000) * s for s in (0.01, 1.0, 40.0, 3000.0)],  # forces coarsening
}
for name, batches in datasets.items():
    files = []
    for i, b in enumerate(batches):
        f = os.path.join(tmp, f"{name}{i}.npy")
        np.save(f, b.astype(np.float32).reshape(-1, 10))
        files.append(f)
    data = [b.astype(np.float32) for b in batches]
    dmn = min(float(b.min()) for b in data)
    dmx = max(float(b.max()) for b in data)
    h = Hist(8192)
    for b in data:
        h.add(b, 2048)
    w = 2.0 ** h.e2
    amax_data = max(-dmn, dmx)
    absh = h.fold()

    # symmetric percentile: the upper edge of the |x| bin where the share reaches p
    for p in (99.99, 99.9, 99.0):
        cum = np.cumsum(absh)
        j = int(np.argmax(cum >= absh.sum() * (p / 100.0)))
        a = min(np.float32((j + 1) * w), np.float32(amax_data))
        want = (np.float32(max(dmn, -a)), np.float32(min(dmx, a)))
        got = run_cquant(files, "--method", "percentile", "--percentile", str(p))
        check(f"{name}: percentile {p} symmetric", got == want, f"got {got}, want {want}")

    # two-sided percentile (asymmetric): tails of (1 - p) / 2 on each side of the signed histogram
    for p in (99.99, 99.0):
        tail = h.counts.sum() * (1 - p / 100.0) / 2.0
        c = np.cumsum(h.counts.astype(np.float64))
        lo_b = next((b for b in range(len(c) - 1) if c[b] > tail), len(c) - 1)
        rc = np.cumsum(h.counts[::-1].astype(np.float64))
        hi_b = len(c) - 1 - next((t for t in range(len(rc) - 1) if rc[t] > tail), len(rc) - 1)
        want = (np.float32(max(dmn, np.float32((h.kmin + lo_b) * w))), np.float32(min(dmx, np.float32((h.kmin + hi_b + 1) * w))))
        got = run_cquant(files, "--method", "percentile", "--percentile", str(p), "--asymmetric")
        check(f"{name}: percentile {p} two-sided", got == want, f"got {got}, want {want}")

    # entropy, int8 (128 levels), int4 (8 levels), and uint8 asymmetric (256 levels, the unsigned form),
    # on the fixed-width histogram (eq. C9-C10; the growing stream with 128 bins to keep this quick)
    ebins = 128 if name == "growing" else 2048
    he = Hist(4 * ebins, 128 * ebins, fixed=True)
    for b in data:
        he.add(b, ebins)
    we, absh = he.width(), he.fold()
    for dtype, qbins, extra in (("int8", 128, ()), ("int4", 8, ()), ("uint8", 256, ("--asymmetric",))):
        got = run_cquant(files, "--method", "entropy", "--dtype", dtype, "--bins", str(ebins), *extra)
        if len(absh) <= 128:
            check(f"{name}: entropy {dtype} (short histogram)", got[1] == np.float32(min(len(absh) * we, amax_data)))
            continue
        divs, args = entropy_divergences(absh, qbins)
        last_argmin = len(divs) - 1 - int(np.argmin(divs[::-1]))
        i_ref = args[last_argmin]
        a_ref = min(np.float32(i_ref * we), np.float32(amax_data))
        if got[1] == np.float32(min(dmx, a_ref)):
            check(f"{name}: entropy {dtype} cut-off bin {i_ref} of {len(absh)}", True)
        else:  # a tie broken by rounding: cquant's choice must be as good to 1e-9
            i_c = int(round(float(got[1]) / we))
            k = np.nonzero(args == i_c)[0]
            ok = len(k) == 1 and divs[k[0]] <= divs[last_argmin] * (1 + 1e-9) + 1e-15
            check(f"{name}: entropy {dtype} cut-off (tie)", ok, f"cquant bin {i_c}, reference {i_ref}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
