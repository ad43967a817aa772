"""Whether two models scored on the same test samples differ by more than the draw of the test set
(docs/calibration.md eq. M2): McNemar's exact test for top-1, the paired t statistic for per-sample
losses. Used by bench/ptq_models_bench.py and bench/qat_bench.py to print beside each peer's figure."""
import math

import numpy as np


def mcnemar(correct_a, correct_b):
    """correct_a, correct_b: one boolean per test sample. Returns (n_ab, n_ba, p): the samples only a
    gets right, only b gets right, and the exact two-sided p = min(1, 2 P(X <= min(n_ab, n_ba))) for
    X ~ Bin(n_ab + n_ba, 1/2) (1 when n_ab = n_ba)."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    nab, nba = int((a & ~b).sum()), int((~a & b).sum())
    m, k = nab + nba, min(nab, nba)
    if m == 0 or nab == nba:
        return nab, nba, 1.0
    # C(m, i) / 2^m from log-gamma: m runs into the thousands
    tail = sum(math.exp(math.lgamma(m + 1) - math.lgamma(i + 1) - math.lgamma(m - i + 1) - m * math.log(2.0)) for i in range(k + 1))
    return nab, nba, min(1.0, 2.0 * tail)


def paired_t(loss_a, loss_b):
    """Per-sample losses of a and b on the same samples. Returns (t, p): t > 0 when a's loss is the
    lower, p its two-sided normal tail (hundreds of samples)."""
    d = np.asarray(loss_b, np.float64) - np.asarray(loss_a, np.float64)
    sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    mean = float(d.mean()) if len(d) else 0.0
    if sd == 0:  # every difference the same: none (no evidence) or all alike (as strong as it gets)
        return (0.0, 1.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0)
    t = mean / (sd / math.sqrt(len(d)))
    return t, math.erfc(abs(t) / math.sqrt(2.0))


def phrase(nab, nba, p):
    return f"cquant alone right on {nab}, peer alone on {nba}: McNemar p = {p:.2f}"
