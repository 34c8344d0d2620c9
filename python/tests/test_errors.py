"""Every bad input is a ValueError carrying the Rust message and its hint; nothing panics."""

import numpy as np
import pytest

import squeeze
from squeeze import feedback as fb


@pytest.mark.parametrize("spec, hint", [
    ("topk:k=1", "did you mean top_k"),
    ("top_k:k=0", "k must be ≥ 1"),
    ("top_k:ratio=2", "ratio"),
    ("qsgd:s=0", "qsgd"),
    ("top_k:k=1 |", "malformed"),
    ("top_k:k=1 | top_k:k=1 | top_k:k=1 | top_k:k=1 | top_k:k=1 | qsgd:s=2", "nests too deep"),
    ("", "spec"),
])
def test_bad_specs(spec, hint):
    with pytest.raises(ValueError, match=hint):
        squeeze.Compressor(spec)


def test_k_larger_than_d():
    with pytest.raises(ValueError, match="k must be ≤ d = 3"):
        squeeze.Compressor("top_k:k=5").compress(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="does not fit dimension"):
        fb.Ef21Worker(3, "top_k:k=5")


@pytest.mark.parametrize("x, hint", [
    (np.zeros(0, np.float32), "empty input"),
    (np.ones(4, np.int64), "dtype int64"),
    (np.ones(4, np.float16), "dtype float16"),
    ([1.0, 2.0], "must be a numpy array"),
    (np.ones((4, 4), np.float32)[:, 0], "not C-contiguous"),
    (np.array([1.0, np.nan], np.float32), "not finite|NaN"),
    (np.array([1.0, np.inf]), "not finite|inf"),
])
def test_bad_arrays(x, hint):
    with pytest.raises(ValueError, match=hint):
        squeeze.Compressor("top_k:k=1").compress(x)


def test_bad_worker_arguments():
    with pytest.raises(ValueError, match="worker index"):
        squeeze.Compressor("top_k:k=1").compress(np.ones(3, np.float32), worker=2, n_workers=2)
    with pytest.raises(ValueError, match="dimension ≥ 1"):
        fb.Ef21Worker(0, "top_k:k=1")
    with pytest.raises(ValueError, match="eta"):
        fb.EcontrolWorker(5, "top_k:k=1", -1.0)
    with pytest.raises(ValueError, match="tau"):
        fb.Clip21Worker(5, 0.0)
    with pytest.raises(ValueError, match="float32"):
        fb.Ef21Worker(5, "top_k:k=1", dtype="int32")
    with pytest.raises(ValueError, match="0..=18446744073709551615.*got -1"):
        squeeze.Compressor("top_k:k=1").compress(np.ones(3, np.float32), seed=-1)
    with pytest.raises(ValueError, match="got -3"):
        fb.Ef21Worker(-3, "top_k:k=1")
    with pytest.raises(ValueError, match="got -1"):
        squeeze.Message.decode(b"", -1)
    with pytest.raises(ValueError, match="got -2"):
        fb.Aggregator(4, -2)


@pytest.mark.parametrize("data, hint", [
    (b"\xff", "unknown message tag"),
    (b"\x01", "truncated"),
    (b"\x01" + b"\x00" * 100, "trailing|non-canonical|truncated"),
])
def test_malformed_bytes(data, hint):
    with pytest.raises(ValueError, match=hint):
        squeeze.Message.decode(data, 10, "float32")


def test_fuzzed_bytes_never_panic():
    rng = np.random.default_rng(0)
    good = squeeze.Compressor("top_k:k=3 | qsgd:s=4").compress(rng.standard_normal(50).astype(np.float32)).to_bytes()
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        data = bytes(data[: rng.integers(len(data) + 1)])
        try:
            m = squeeze.Message.decode(data, 50, "float32")
        except ValueError:
            continue
        assert m.dim == 50 and m.to_bytes() is not None


def test_feedback_bad_inputs_change_nothing():
    w = fb.Ef21Worker(4, "top_k:k=1", seed=1)
    w.step(np.arange(4, dtype=np.float32))
    before = w.state_dict()
    with pytest.raises(ValueError, match=r"\[2\] = NaN is not finite; nothing was changed"):
        w.step(np.array([1, 2, np.nan, 4], np.float32))
    with pytest.raises(ValueError, match="has 3 entries but the state was built for dimension 4"):
        w.step(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="different dtype than the worker"):
        w.step(np.ones(4, np.float64))
    assert w.state_dict() == before and w.round == 1

    s = fb.Ef21Server(4, 2)
    msg = w.step(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="1 messages for 2 workers"):
        s.absorb([msg])
    with pytest.raises(ValueError, match="message 1"):
        s.absorb([msg, b"\xff"])
    with pytest.raises(ValueError, match="neither"):
        s.absorb([msg, 3])
    with pytest.raises(ValueError, match="dimension 4"):
        s.absorb([msg, squeeze.Compressor("identity").compress(np.ones(5, np.float32))])
    with pytest.raises(ValueError, match="not float32"):
        s.absorb([msg, squeeze.Compressor("identity").compress(np.ones(4))])
    np.testing.assert_array_equal(s.estimate, np.zeros(4)) 
    assert s.round == 0


def test_bad_states():
    w = fb.Ef21Worker(4, "top_k:k=1")
    sd = w.state_dict()
    for bad, hint in [
        (b"", "truncated"),
        (b"nope" + sd[4:], "bad magic"),
        (sd[:-1], "truncated"),
        (sd + b"\x00", "trailing"),
        (fb.Ef21Worker(5, "top_k:k=1").state_dict(), "dimension 5"),
        (fb.Ef21Worker(4, "top_k:k=2").state_dict(), "same mechanism"),
        (fb.Ef14Worker(4, "top_k:k=1").state_dict(), "same mechanism"),
        (fb.Ef21Worker(4, "top_k:k=1", dtype="float64").state_dict(), "same dtype"),
    ]:
        with pytest.raises(ValueError, match=hint):
            w.load_state_dict(bad)
    assert w.state_dict() == sd
    with pytest.raises(ValueError, match="same dim"):
        fb.Ef21Server(4, 2).load_state_dict(fb.Ef21Server(4, 3).state_dict())


def test_message_add_to_checks():
    m = squeeze.Compressor("top_k:k=1").compress(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="buffer of length 3"):
        m.add_to(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="different dtype"):
        m.add_to(np.zeros(4, np.float64))
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="not writable"):
        m.add_to(ro)
