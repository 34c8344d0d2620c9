"""The DDP-hook cast compressors agree with numpy's and torch's own casts, bit for bit."""

import numpy as np
import pytest

import squeeze


def _x(d, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(d) * 10.0 ** rng.integers(-6, 4, d)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fp16_is_numpys_float16_cast(dtype):
    x = _x(1000, 1, dtype)
    m = squeeze.Compressor("fp16").compress(x)
    assert m.bits == 4 + 2 + 16 * 1000
    np.testing.assert_array_equal(m.to_dense(), x.astype(np.float16).astype(dtype))
    # beyond 65504 the cast saturates instead of sending inf
    big = np.array([1e5, -1e9, 3.0], dtype)
    np.testing.assert_array_equal(squeeze.Compressor("fp16").compress(big).to_dense(), [65504.0, -65504.0, 3.0])


def test_bf16_is_torchs_bfloat16_cast():
    torch = pytest.importorskip("torch")
    x = _x(1000, 2)
    m = squeeze.Compressor("bf16").compress(x)
    want = torch.from_numpy(x).to(torch.bfloat16).to(torch.float32).numpy()
    np.testing.assert_array_equal(m.to_dense(), want)


def test_uint8_keeps_the_extremes_and_a_step_of_error():
    x = _x(500, 3)
    m = squeeze.Compressor("uint8").compress(x, seed=4)
    y = m.to_dense()
    assert m.bits == 4 + 2 + 64 + 8 * 500
    step = (x.max() - x.min()) / 255
    assert y[np.argmax(x)] == x.max() and y[np.argmin(x)] == x.min()
    assert np.all(np.abs(y - x) <= step * (1 + 1e-6))
