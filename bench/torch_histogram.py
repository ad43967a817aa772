#!/usr/bin/python3
"""PyTorch baseline for bench_calib: HistogramObserver (update + calculate_qparams) and
MinMaxObserver on the tensor the C benchmark wrote. Prints NAME THREADS MEDIAN_SECONDS lines.
usage: torch_histogram.py X.npy REPS"""
import sys
import time

import numpy as np
import torch

x = torch.from_numpy(np.load(sys.argv[1]))
reps = int(sys.argv[2])
batches = x.chunk(16)  # the same 16 batches the C benchmark observes
print(f"# PyTorch {torch.__version__}: HistogramObserver(bins=2048) and MinMaxObserver, int8 symmetric, 16 batches", flush=True)


def median(fn):
    fn()
    t = []
    for _ in range(reps):
        a = time.perf_counter()
        fn()
        t.append(time.perf_counter() - a)
    return sorted(t)[len(t) // 2]


def hist():
    o = torch.ao.quantization.HistogramObserver(bins=2048, dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    for b in batches:
        o(b)
    o.calculate_qparams()


def mm():
    o = torch.ao.quantization.MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    for b in batches:
        o(b)
    o.calculate_qparams()


for threads in (1, 2):
    torch.set_num_threads(threads)
    print("histogram_observer", threads, median(hist), flush=True)
    print("minmax_observer", threads, median(mm), flush=True)
