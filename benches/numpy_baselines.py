#!/usr/bin/env python3
"""Same-run NumPy baselines for the compressor bench (issue #15).

What a user would write instead of squeeze, timed on the same input distribution as
`benches/compressors.rs` (seeded Gaussian f32 with every 997th entry x50; the exact values
differ, the distribution does not). Run it right after the Rust bench so both see the same
machine load:

    cargo bench --bench compressors -- 'read_pass|compress|wire::encode_decode|full_path' \
        --sample-count 10
    python3 benches/numpy_baselines.py            # d = 10^7, median of 9 runs

Prints one row per baseline: median seconds and GB/s of f32 input (4 d bytes). NumPy only;
CI does not run this script.
"""

import argparse
import statistics
import time

import numpy as np


def make_input(d, seed=2024):
    x = np.random.default_rng(seed).standard_normal(d, dtype=np.float32)
    x[::997] *= 50.0
    return x


def read_pass(x, rng):
    return np.sum(x)


def top_k_argpartition(x, rng):
    """Top-1 % by magnitude: indices and values (unordered, like a sparse message)."""
    k = max(1, x.size // 100)
    idx = np.argpartition(np.abs(x), x.size - k)[x.size - k :]
    return idx, x[idx]


def qsgd16(x, rng):
    """QSGD, s = 16, l2 norm: stochastic rounding to integer levels, plus the signs."""
    s = 16
    norm = np.linalg.norm(x)
    r = np.abs(x) * (s / norm)
    levels = np.floor(r + rng.random(x.size, dtype=np.float32)).astype(np.int8)
    return norm, levels, np.signbit(x)


def natural(x, rng):
    """Natural compression: stochastic rounding of |x| to a neighbouring power of two."""
    a = np.abs(x)
    m, e = np.frexp(a)  # a = m 2^e, m in [0.5, 1): between 2^(e-1) and 2^e
    up = rng.random(x.size, dtype=np.float32) < (2.0 * m - 1.0)
    out = np.ldexp(np.where(up, np.float32(1.0), np.float32(0.5)), e)
    return np.copysign(out, x)


def scaled_sign(x, rng):
    """Scaled sign: ||x||_1 / d and the packed sign bits."""
    return np.mean(np.abs(x)), np.packbits(np.signbit(x))


BASELINES = [
    ("read pass (np.sum)", read_pass),
    ("Top-1 % (argpartition, indices + values)", top_k_argpartition),
    ("QSGD s = 16 (levels + signs)", qsgd16),
    ("natural (stochastic power of two)", natural),
    ("scaled sign (mean |x|, packbits)", scaled_sign),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=float, default=1e7, help="vector length (default 1e7)")
    ap.add_argument("--runs", type=int, default=9, help="timed runs per baseline (default 9)")
    args = ap.parse_args()
    d = int(args.dim)
    x = make_input(d)
    rng = np.random.default_rng(1)
    print(f"NumPy {np.__version__}, d = {d:.0e} f32 ({4 * d / 1e6:.0f} MB), "
          f"median of {args.runs} runs, one thread of NumPy")
    print(f"| {'baseline':<42} | {'median':>10} | {'GB/s':>6} |")
    print(f"|{'-' * 44}|{'-' * 11}:|{'-' * 7}:|")
    for name, f in BASELINES:
        f(x, rng)  # warm-up
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            f(x, rng)
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        print(f"| {name:<42} | {med * 1e3:>7.2f} ms | {4 * d / med / 1e9:>6.2f} |")


if __name__ == "__main__":
    main()
