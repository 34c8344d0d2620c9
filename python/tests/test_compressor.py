"""Compressors and messages through the bindings: round trips, exact bit counts, contracts."""

import numpy as np
import pytest

import squeeze

EXAMPLES = [e for _, _, ex in squeeze.compressors() for e in ex]


def _x(d, seed, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(d).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", EXAMPLES)
def test_decode_encode_round_trip_and_exact_bits(spec, dtype):
    c = squeeze.Compressor(spec)
    assert squeeze.Compressor(c.spec).spec == c.spec
    # 210 = 20·21/2: also the packed upper triangle of a 20 × 20 symmetric matrix, the input of
    # the matrix compressors (sym_top_k, rank_r, …), which refuse non-triangular lengths.
    d = 210
    x = _x(d, 1, dtype)
    for seed in range(3):
        m = c.compress(x, seed=seed, worker=0, n_workers=4, round=seed)
        data = m.to_bytes()
        assert len(data) == (m.bits + 7) // 8
        back = squeeze.Message.decode(data, d, dtype)
        assert back == m and back.bits == m.bits and back.to_bytes() == data
        assert m.dim == d and m.dtype == np.dtype(dtype).name
        dense = m.to_dense()
        assert dense.dtype == dtype and dense.shape == (d,)
        out = np.ones(d, dtype)
        m.add_to(out, scale=-2.0)
        np.testing.assert_allclose(out, 1.0 - 2.0 * dense, rtol=1e-6, atol=1e-6)
        # Straight to the wire: the same bytes from the same arguments.
        assert c.compress_to_bytes(x, seed=seed, worker=0, n_workers=4, round=seed) == data


def test_compress_to_bytes_of_a_large_vector_and_its_errors():
    # Above 2^19 entries, where QSGD and TernGrad pack codes as they make them, chunk by chunk.
    x = _x((1 << 19) + 4099, 5)
    for spec in ["qsgd:s=16", "terngrad", "qsgd:s=3,norm=linf", "natural"]:
        c = squeeze.Compressor(spec)
        assert c.compress_to_bytes(x, seed=7, round=2) == c.compress(x, seed=7, round=2).to_bytes()
    bad = x.copy()
    bad[12345] = np.nan
    with pytest.raises(ValueError, match="12345"):
        squeeze.Compressor("qsgd:s=16").compress_to_bytes(bad)


def test_same_arguments_same_bytes_and_seed_changes_them():
    c = squeeze.Compressor("rand_k:k=5")
    x = _x(100, 0)
    a = c.compress(x, seed=3, worker=1, n_workers=2).to_bytes()
    assert a == c.compress(x, seed=3, worker=1, n_workers=2).to_bytes()
    assert a != c.compress(x, seed=4, worker=1, n_workers=2).to_bytes()
    assert a != c.compress(x, seed=3, worker=0, n_workers=2).to_bytes()


def test_top_k_keeps_the_largest_and_contracts():
    c = squeeze.Compressor("top_k:ratio=0.05")
    d = 400
    alpha = c.alpha(d)
    assert alpha == pytest.approx(0.05) and c.omega(d) is None
    for seed in range(20):
        x = _x(d, seed, np.float64)
        m = c.compress(x)
        y = m.to_dense()
        assert m.entries == 20
        kept = np.flatnonzero(y)
        assert set(kept) == set(np.argsort(-np.abs(x))[:20])
        assert np.sum((y - x) ** 2) <= (1 - alpha) * np.sum(x**2) + 1e-12


def test_rand_k_is_unbiased_by_seeded_monte_carlo():
    # E[C(x)] = x with Var = ω‖x‖²; over N seeds the mean's error per coordinate has standard
    # deviation sqrt(ω/N)·‖x‖/sqrt(d)·… — we check ‖mean − x‖² ≤ 5·ω‖x‖²/N (5× the expectation).
    c = squeeze.Compressor("rand_k:k=8")
    d, n = 64, 4000
    x = _x(d, 7, np.float64)
    omega = c.omega(d)
    assert omega == pytest.approx(d / 8 - 1)
    acc = np.zeros(d)
    for seed in range(n):
        c.compress(x, seed=seed).add_to(acc, scale=1.0 / n)
    err = np.sum((acc - x) ** 2)
    assert err <= 5 * omega * np.sum(x**2) / n, (err, omega * np.sum(x**2) / n)


def test_qsgd_variance_bound_holds_empirically():
    c = squeeze.Compressor("qsgd:s=4")
    d, n = 50, 2000
    x = _x(d, 3, np.float64)
    omega = c.omega(d)
    second = np.mean([np.sum((c.compress(x, seed=s).to_dense() - x) ** 2) for s in range(n)])
    assert second <= omega * np.sum(x**2) * 1.1


def test_zero_copy_input_of_any_shape_is_read_flat():
    c = squeeze.Compressor("top_k:k=2")
    x = np.array([[1.0, -5.0], [3.0, 0.5]], dtype=np.float32)
    m = c.compress(x)
    assert m.dim == 4
    np.testing.assert_array_equal(m.to_dense(), [0.0, -5.0, 3.0, 0.0])


def test_alpha_omega_and_describe():
    c = squeeze.Compressor("top_k:ratio=0.01 | scaled(qsgd:s=16)")
    assert c.alpha(1000) is not None and 0 < c.alpha(1000) <= 0.01
    assert "contractive" in c.describe(1000)
    assert squeeze.Compressor("natural").omega(10) == pytest.approx(0.125)
    assert repr(c).startswith("Compressor(")
