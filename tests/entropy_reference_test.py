#!/usr/bin/python3
"""Entropy calibration against pytorch-quantization, on streams whose range grows.

An independent NumPy implementation of pytorch-quantization's HistogramCalibrator (the default
torch_hist=True collection) followed by compute_amax("entropy"), written from its definition, not
from cquant's binning:

- collect: |x| of each batch (when it holds a negative value); the first batch is counted in
  num_bins = 2048 equal bins over [0, max|x|] (torch.histc, edges torch.linspace(0, max, 2049)); a
  later batch whose max exceeds the last edge makes the bins keep their width and grow in number,
  ceil(max / width) bins with edges torch.arange(0, max + width, width), and is counted over
  [0, last edge] in that many bins; the earlier counts are added to the first bins;
- compute_amax("entropy", stride=1, start_bin=128): with bin 0 replaced by bin 1, for every cut-off
  i from 128 to the number of bins, the reference is bins [0, i) with the mass beyond i added to
  bin i-1, the candidate spreads each of the 2^(bits-1) levels (numpy.digitize over
  numpy.linspace(0, i, levels + 1)) evenly over its non-empty bins, and the divergence is
  scipy.stats.entropy(reference, candidate); amax is bin_edges[i] of the last smallest divergence.

The streams: 1,998,000 N(0,1) values and 2,000 N(0, 40^2) values in 4 batches of 500,000, with the
wide values last (the issue's case), shuffled, first, and opening batch 2 (after another first batch); then plain
Gaussian and Laplace streams. cquant's amax (`cquant calibrate --method entropy`) must be within 2%
of the reference's.

usage: entropy_reference_test.py PATH/TO/cquant [--table] [--baseline PATH/TO/other/cquant]
(--table prints a Markdown table; --baseline adds another build's amax to it, not checked)
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

CQ = sys.argv[1]
TABLE = "--table" in sys.argv
BASE = sys.argv[sys.argv.index("--baseline") + 1] if "--baseline" in sys.argv else None


class PQHistogram:
    """pytorch-quantization's HistogramCalibrator(num_bits, axis=None, unsigned, num_bins=2048)."""

    def __init__(self, num_bits=8, unsigned=False, num_bins=2048):
        self.num_bits, self.unsigned, self.num_bins = num_bits, unsigned, num_bins
        self.hist = self.edges = None

    @staticmethod
    def histc(x, bins, hi):
        """torch.histc(x, bins, min=0, max=hi): equal bins over [0, hi], hi itself in the last bin,
        values outside left out."""
        x = x[(x >= 0) & (x <= hi)].astype(np.float64)
        k = np.floor(x * bins / float(hi)).astype(np.int64)
        k[k == bins] = bins - 1
        return np.bincount(k, minlength=bins)[:bins]

    def collect(self, x):
        x = np.asarray(x, np.float32)
        if x.min() < 0:
            x = np.abs(x)
        x_max = x.max()
        if self.hist is None:
            self.edges = np.linspace(0, x_max, self.num_bins + 1, dtype=np.float32)
            self.hist = self.histc(x, self.num_bins, x_max)
            return
        if x_max > self.edges[-1]:
            width = np.float32(self.edges[1] - self.edges[0])
            self.num_bins = int(np.ceil(x_max / width))
            self.edges = np.arange(0, x_max + width, width, dtype=np.float32)
        h = self.histc(x, self.num_bins, self.edges[-1])
        h[: len(self.hist)] += self.hist
        self.hist = h

    def amax_entropy(self, stride=1, start_bin=128):
        bins = self.hist.astype(np.int64).copy()
        bins[0] = bins[1]
        levels = 1 << (self.num_bits - 1 + int(self.unsigned))
        divs = []
        for i in range(start_bin, len(bins) + 1, stride):
            space = np.linspace(0, i, num=levels + 1)
            dig = np.digitize(np.arange(i), space) - 1
            nz = bins[:i] != 0
            d = dig[nz]
            level_sum = np.bincount(d, weights=bins[:i][nz].astype(np.float64), minlength=levels)
            level_n = np.bincount(d, minlength=levels)
            cand = np.zeros(i)
            cand[nz] = level_sum[d] / level_n[d]
            ref = bins[:i].astype(np.float64)
            ref[-1] += bins[i:].sum()
            p, q = ref / ref.sum(), cand / cand.sum()
            m = p > 0
            divs.append(np.inf if np.any(q[m] == 0) else float(np.sum(p[m] * np.log(p[m] / q[m]))))
        divs = np.array(divs)
        last_argmin = len(divs) - 1 - int(np.argmin(divs[::-1]))
        return float(self.edges[last_argmin * stride + start_bin])


def cquant_amax(files, tmp, *opts, cq=CQ):
    out = os.path.join(tmp, "c.json")
    r = subprocess.run([cq, "calibrate", *files, "--json", out, "--method", "entropy", *opts], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    c = json.load(open(out))["calibration"]
    return max(-float(c["range_min"][0]), float(c["range_max"][0]))


def streams(rng):
    n, wide = 2_000_000, 2_000
    bulk = rng.standard_normal(n - wide).astype(np.float32)
    out = rng.standard_normal(wide).astype(np.float32) * 40
    tail = np.concatenate([bulk, out])
    yield "growing: wide values last", np.split(tail, 4)
    shuffled = tail.copy()
    rng.shuffle(shuffled)
    yield "growing: shuffled", np.split(shuffled, 4)
    yield "growing: wide values first", np.split(np.concatenate([out, bulk]), 4)
    mid = np.concatenate([bulk[1_000_000:1_500_000], out, bulk[:1_000_000], bulk[1_500_000:]])
    yield "growing: wide values opening batch 2", np.split(mid, 4)
    yield "gaussian", [rng.standard_normal(250_000).astype(np.float32) for _ in range(4)]
    yield "laplace", [rng.laplace(0, 1, 250_000).astype(np.float32) for _ in range(4)]


def main():
    rng = np.random.default_rng(2011)
    tmp = tempfile.mkdtemp(prefix="cquant_entref.")
    passed = failed = 0
    rows = []
    for name, batches in streams(rng):
        files = []
        for i, b in enumerate(batches):
            f = os.path.join(tmp, f"b{i}.npy")
            np.save(f, b.reshape(-1, 1000))
            files.append(f)
        for bits, unsigned, opts in ((8, False, ()),):
            ref = PQHistogram(bits, unsigned)
            for b in batches:
                ref.collect(b)
            t = time.time()
            want = ref.amax_entropy()
            t = time.time() - t
            got = cquant_amax(files, tmp, *opts)
            base = cquant_amax(files, tmp, *opts, cq=BASE) if BASE else None
            rel = abs(got - want) / want
            ok = rel <= 0.02
            passed += ok
            failed += not ok
            rows.append((name, len(ref.hist), want, base, got, rel))
            print(f"{'ok  ' if ok else 'FAIL'} {name}: reference amax {want:.4f} ({len(ref.hist)} bins, {t:.1f} s), "
                  f"cquant {got:.4f}, {100 * rel:.2f}%")
    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)
    if TABLE:
        print("| stream | reference bins | pytorch-quantization amax | baseline amax | cquant amax | difference |")
        for name, nb, want, base, got, rel in rows:
            b = f"{base:.3f} ({100 * (base - want) / want:+.1f}%)" if base is not None else "-"
            print(f"| {name} | {nb} | {want:.3f} | {b} | {got:.3f} | {100 * rel:.2f}% |")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
