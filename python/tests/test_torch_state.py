"""SqueezeState without a process group: argument checks, regrouping that carries the
error-feedback memory, checkpoint guards."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from squeeze.torch import SqueezeState  # noqa: E402


def test_bad_arguments():
    with pytest.raises(ValueError, match="did you mean top_k"):
        SqueezeState(compressor="topk:k=1")
    with pytest.raises(ValueError, match="unknown feedback"):
        SqueezeState(feedback="ef99")
    with pytest.raises(ValueError, match="seed"):
        SqueezeState(seed=-1)
    with pytest.raises(ValueError, match="start_round"):
        SqueezeState(start_round=-2)


def _stepped_state(feedback="ef21"):
    s = SqueezeState(compressor="top_k:k=2", feedback=feedback, seed=1)
    (g,) = s._groups_for([0, 1, 2], [2, 3, 1], "float32", 0, 1)
    for t in range(3):
        g.server.absorb([g.worker.step(np.arange(6, dtype=np.float32) * (t + 1) - 2.5)])
    return s, g


@pytest.mark.parametrize("feedback", ["ef21", "econtrol:eta=0.2", "ef14", "clip21:tau=3"])
def test_regrouping_carries_memory_coordinate_by_coordinate(feedback):
    s, g = _stepped_state(feedback)
    mem, est = dict(g.worker.memory()), g.server.estimate
    assert s._groups_for([0, 1, 2], [2, 3, 1], "float32", 0, 1) == [g]  # same layout: same group
    # a rebuild puts parameters 2 and 1 into one bucket (reversed) and 0 into another
    (h,) = s._groups_for([2, 1], [1, 3], "float32", 0, 1)
    for name, v in h.worker.memory():
        np.testing.assert_array_equal(v, np.concatenate([mem[name][5:6], mem[name][2:5]]))
    np.testing.assert_array_equal(h.server.estimate, np.concatenate([est[5:6], est[2:5]]))
    (k,) = s._groups_for([0], [2], "float32", 0, 1)
    for name, v in k.worker.memory():
        np.testing.assert_array_equal(v, mem[name][0:2])
    assert not s._loose
    # a bucket that is a union of groups uses them as they are
    assert s._groups_for([0, 2, 1], [2, 1, 3], "float32", 0, 1) == [k, h]


def test_checkpoint_round_trip_and_guards():
    s, g = _stepped_state("econtrol:eta=0.1")
    s.bits_sent, s.rounds = 123, 4
    for shape in [(2,), (3,), (1,)]:
        s._param_id(torch.zeros(shape))
    sd = s.state_dict()
    t = SqueezeState(compressor="top_k:k=2", feedback="econtrol:eta=0.1", seed=1)
    t.load_state_dict(sd)
    assert (t.bits_sent, t.rounds) == (123, 4)
    (h,) = t._groups_for([0, 1, 2], [2, 3, 1], "float32", 0, 1)
    assert h.worker.state_dict() == g.worker.state_dict()
    assert h.server.state_dict() == g.server.state_dict()
    assert t.state_dict()["groups"] == sd["groups"]
    # a different model: the parameter at position 0 has another shape
    t.load_state_dict(sd)
    with pytest.raises(ValueError, match="loaded state recorded"):
        t._param_id(torch.zeros(5))
    with pytest.raises(ValueError, match="same arguments"):
        SqueezeState(compressor="top_k:k=3", feedback="econtrol:eta=0.1", seed=1).load_state_dict(sd)
    with pytest.raises(ValueError, match="not a SqueezeState"):
        t.load_state_dict({"version": 2})


def test_a_state_loaded_on_another_rank_is_refused():
    s = SqueezeState(compressor="top_k:k=1")
    s._groups_for([0, 1], [2, 2], "float32", 1, 2)
    t = SqueezeState(compressor="top_k:k=1")
    t.load_state_dict(s.state_dict())
    with pytest.raises(ValueError, match="belongs to rank 1 of 2, but this is rank 0 of 2"):
        t._groups_for([0, 1], [2, 2], "float32", 0, 2)
