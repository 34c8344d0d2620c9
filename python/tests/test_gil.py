"""The GIL is released while Rust compresses: another Python thread keeps running during a
long native call (while a call that holds the GIL stalls it for the whole call)."""

import threading
import time

import numpy as np

import squeeze
from squeeze import feedback as fb


def _longest_stall(call):
    """Run `call` in a thread; return (longest gap between ticks of this thread, call time)."""
    done = threading.Event()
    span = []

    def run():
        t0 = time.perf_counter()
        call()
        span.append(time.perf_counter() - t0)
        done.set()

    t = threading.Thread(target=run)
    last, gap = time.perf_counter(), 0.0
    t.start()
    while not done.is_set():
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    t.join()
    return gap, span[0]


def test_compress_and_step_release_the_gil():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16_000_000, dtype=np.float32)
    c = squeeze.Compressor("qsgd:s=16")
    # One call long enough (> 30 ms) to tell a released GIL from a held one: on a fast
    # machine 16M entries compress in less, so the input doubles until it is.
    big = x
    for _ in range(4):
        gap, took = _longest_stall(lambda: c.compress(big, seed=1))
        if took > 0.03:
            break
        big = np.concatenate([big, big])
    # holding the GIL would stall this thread for the whole call (see the control below)
    assert took > 0.03 and gap < 0.5 * took, (gap, took)
    del big
    w = fb.Ef21Worker(x.size, "top_k:ratio=0.3")
    gap, took = _longest_stall(lambda: w.step(x))
    assert gap < 0.5 * took, (gap, took)


def test_control_a_call_that_holds_the_gil_stalls_the_other_thread():
    # sanity check of the measurement: building a large bytes object keeps the GIL
    gap, took = _longest_stall(lambda: b"\x01" * 400_000_000)
    assert gap > 0.5 * took, (gap, took)
