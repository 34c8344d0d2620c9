"""Same seed, same bytes: the Python bindings reproduce byte strings pinned by the Rust
program src/bin/vectors.rs (tests/vectors/rust_vectors.json)."""

import json
from pathlib import Path

import numpy as np
import pytest

import squeeze
from squeeze import feedback as fb

VECTORS = json.loads((Path(__file__).parent / "vectors" / "rust_vectors.json").read_text())


def _array(hexstr, dtype):
    return np.frombuffer(bytes.fromhex(hexstr), dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)


@pytest.mark.parametrize("case", VECTORS["compress"], ids=lambda c: f"{c['spec']}-{c['dtype']}-{c['seed']}")
def test_compress_bytes_match_rust(case):
    x = _array(case["x"], case["dtype"])
    c = squeeze.Compressor(case["spec"])
    m = c.compress(x, seed=case["seed"], worker=case["worker"], n_workers=case["n_workers"],
                   round=case["round"])
    assert m.bits == case["bits"]
    assert m.to_bytes().hex() == case["bytes"]
    # and the pinned bytes decode to the same message
    assert squeeze.Message.decode(bytes.fromhex(case["bytes"]), case["dim"], case["dtype"]) == m


@pytest.mark.parametrize("case", VECTORS["feedback"], ids=lambda c: c["kind"])
def test_feedback_bytes_match_rust(case):
    d, kw = case["dim"], dict(seed=case["seed"], worker=case["worker"], n_workers=case["n_workers"])
    w = {
        "ef21": lambda: fb.Ef21Worker(d, case["spec"], **kw),
        "ef14": lambda: fb.Ef14Worker(d, case["spec"], scale=0.5, **kw),
        "econtrol": lambda: fb.EcontrolWorker(d, case["spec"], 0.25, **kw),
        "clip21": lambda: fb.Clip21Worker(d, 2.0, compressor=case["spec"], **kw),
    }[case["kind"]]()
    got = [w.step(_array(x, "float32")).to_bytes().hex() for x in case["xs"]]
    assert got == case["bytes"]


def test_vectors_cover_randomised_compressors():
    specs = {c["spec"] for c in VECTORS["compress"]}
    assert {"rand_k:k=4", "perm_k:n=2", "qsgd:s=4", "natural", "terngrad"} <= specs
