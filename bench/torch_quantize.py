#!/usr/bin/python3
"""PyTorch baseline for bench_quantize: times torch.quantize_per_tensor / quantize_per_channel on
the very tensor the C benchmark wrote (a .npy), and prints one line per case:
    NAME THREADS MEDIAN_SECONDS
usage: torch_quantize.py X.npy CHANNEL_ROWS REPS
"""
import sys
import time

import numpy as np
import torch

path, rows, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = torch.from_numpy(np.load(path))
xc = x.reshape(rows, -1)
print(f"# PyTorch {torch.__version__} (Debian python3-torch), timed with torch.set_num_threads(1) and (2)", flush=True)


def median(fn):
    fn()  # warm-up
    t = []
    for _ in range(reps):
        a = time.perf_counter()
        fn()
        t.append(time.perf_counter() - a)
    return sorted(t)[len(t) // 2]


amax = float(x.abs().max())
scale = amax / 127.5
cs = (xc.abs().amax(1) / 127.5).double()
cz = torch.zeros(rows, dtype=torch.long)
for threads in (1, 2):
    torch.set_num_threads(threads)
    print("quantize_per_tensor_int8", threads, median(lambda: torch.quantize_per_tensor(x, scale, 0, torch.qint8)), flush=True)
    print("quantize_per_channel_int8", threads, median(lambda: torch.quantize_per_channel(xc, cs, cz, 0, torch.qint8)), flush=True)
    q = torch.quantize_per_tensor(x, scale, 0, torch.qint8)
    print("dequantize_per_tensor_int8", threads, median(lambda: q.dequantize()), flush=True)
