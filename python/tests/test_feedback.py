"""Push-style feedback through the bindings: server = mean of workers, exact checkpoints."""

import numpy as np
import pytest

import squeeze
from squeeze import feedback as fb


def _grads(t, n, d):
    rng = np.random.default_rng(1000 + t)
    return [rng.standard_normal(d).astype(np.float32) for _ in range(n)]


def test_ef21_converges_on_quadratics_with_few_bits():
    # f_i(x) = ½‖x − a_i‖²: the minimiser of the mean is mean(a_i)
    d, n = 50, 4
    a = [np.random.default_rng(i).standard_normal(d).astype(np.float32) for i in range(n)]
    workers = [fb.Ef21Worker(d, "top_k:k=5", seed=2, worker=i, n_workers=n) for i in range(n)]
    server = fb.Ef21Server(d, n)
    x = np.zeros(d, np.float32)
    for _ in range(300):
        server.absorb([w.step(x - ai).to_bytes() for w, ai in zip(workers, a)])
        x -= 0.5 * server.estimate
    np.testing.assert_allclose(x, np.mean(a, axis=0), atol=1e-4)
    # server g is the mean of the workers' g_i
    g_mean = np.mean([dict(w.memory())["g"] for w in workers], axis=0)
    np.testing.assert_allclose(server.estimate, g_mean, atol=1e-6)
    dense_bits = 300 * n * d * 32
    assert sum(w.bits_sent for w in workers) < 0.2 * dense_bits


def _make(kind, d, n, i, dtype="float32"):
    kw = dict(seed=9, worker=i, n_workers=n, dtype=dtype)
    return {
        "ef21": lambda: fb.Ef21Worker(d, "rand_k:k=4", **kw),
        "ef14": lambda: fb.Ef14Worker(d, "rand_k:k=4", scale=0.5, **kw),
        "econtrol": lambda: fb.EcontrolWorker(d, "rand_k:k=4", 0.1, **kw),
        "clip21": lambda: fb.Clip21Worker(d, 0.5, compressor="rand_k:k=4", **kw),
        "dp_clip21": lambda: fb.Clip21Worker(d, 0.5, sigma=0.1, **kw),
    }[kind]()


@pytest.mark.parametrize("kind", ["ef21", "ef14", "econtrol", "clip21", "dp_clip21"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_state_dict_resume_is_bit_exact(kind, dtype):
    d, n = 16, 2

    def run(ws, srv, t0, t1):
        out = []
        for t in range(t0, t1):
            msgs = [w.step(g.astype(dtype)).to_bytes() for w, g in zip(ws, _grads(t, n, d))]
            srv.absorb(msgs)
            out.append((msgs, srv.estimate.tobytes()))
        return out

    def mk(i):
        return _make(kind, d, n, i, dtype)

    running = kind != "ef14"

    ws, srv = [mk(i) for i in range(n)], fb.Aggregator(d, n, dtype=dtype, running=running)
    whole = run(ws, srv, 0, 12)

    ws, srv = [mk(i) for i in range(n)], fb.Aggregator(d, n, dtype=dtype, running=running)
    first = run(ws, srv, 0, 5)
    states = [w.state_dict() for w in ws], srv.state_dict()
    ws2, srv2 = [mk(i) for i in range(n)], fb.Aggregator(d, n, dtype=dtype, running=running)
    for w, s in zip(ws2, states[0]):
        w.load_state_dict(s)
    srv2.load_state_dict(states[1])
    assert ws2[0].round == 5 and srv2.round == 5 and ws2[1].bits_sent == ws[1].bits_sent
    assert first + run(ws2, srv2, 5, 12) == whole


def test_ef14_server_is_the_round_mean():
    d = 6
    ws = [fb.Ef14Worker(d, "identity", worker=i, n_workers=2) for i in range(2)]
    srv = fb.Ef14Server(d, 2)
    g = _grads(0, 2, d)
    srv.absorb([w.step(x) for w, x in zip(ws, g)])
    np.testing.assert_allclose(srv.estimate, (g[0] + g[1]) / 2, rtol=1e-6)
    srv.absorb([w.step(x) for w, x in zip(ws, g)])
    np.testing.assert_allclose(srv.estimate, (g[0] + g[1]) / 2, rtol=1e-6)


def test_parse_feedback():
    assert fb.parse_feedback("ef21") == ("ef21", {})
    assert fb.parse_feedback("econtrol:eta=0.2") == ("econtrol", {"eta": 0.2})
    for bad in ["ef22", "econtrol", "ef21:x=1", "clip21:tau", 3]:
        with pytest.raises(ValueError):
            fb.parse_feedback(bad)


def test_worker_repr_and_properties():
    w = fb.EcontrolWorker(8, squeeze.Compressor("top_k:k=2"), 0.1, seed=4, worker=1, n_workers=3)
    assert (w.dim, w.seed, w.worker, w.n_workers, w.round, w.dtype) == (8, 4, 1, 3, 0, "float32")
    assert "econtrol" in repr(w) and "top_k:k=2" in w.description
    assert isinstance(w, fb.Worker)
    assert [n for n, _ in w.memory()] == ["e", "h"]


def test_estimate_into_writes_in_place_and_checks():
    s = fb.Ef21Server(4, 1)
    s.absorb([squeeze.Compressor("identity").compress(np.arange(4, dtype=np.float32))])
    buf = np.zeros(6, np.float32)
    s.estimate_into(buf[1:5])
    np.testing.assert_array_equal(buf, [0, 0, 1, 2, 3, 0])
    with pytest.raises(ValueError, match="3 entries but the aggregator has dimension 4"):
        s.estimate_into(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="different dtype"):
        s.estimate_into(np.zeros(4))
