"""A PyTorch DDP communication hook that sends compressed, error-feedback messages.

::

    from squeeze.torch import SqueezeState, squeeze_hook
    state = SqueezeState(compressor="top_k:ratio=0.01", feedback="ef21", seed=0)
    ddp_model.register_comm_hook(state, squeeze_hook)

Per bucket and iteration each rank runs its feedback worker on the bucket's gradient
(compression and encoding in Rust, GIL released), the encoded messages are exchanged with
``torch.distributed.all_gather`` (lengths first, then the bytes padded to the longest), every
rank decodes all messages in rank order and applies them to its replica of the server, whose
estimate is the averaged gradient the hook returns. All ranks therefore hold bit-identical
averaged gradients.

State: one feedback worker and one server per bucket, keyed by the bucket index and the shapes
of its parameters. Error-feedback memory is never reset silently: if a bucket index shows up
with a different parameter layout (DDP rebuilds its buckets once, after the first iteration,
and may regroup parameters), the hook raises ``ValueError``; use ``start_round >= 1`` so that
the first iteration is a plain all-reduce and the feedback state is created after the rebuild
(as PyTorch's PowerSGD hook does with ``start_powerSGD_iter``).

``state.bits_sent`` counts the exact encoded bits this rank sent (for plain all-reduce rounds:
the dense bucket size in bits); ``state.rounds`` counts completed iterations;
``state.state_dict()`` / ``load_state_dict()`` carry everything (each rank saves its own).
"""

import numpy as np
import torch
import torch.distributed as dist

from ._native import Compressor, round_seed
from .feedback import make_server, make_worker, parse_feedback

__all__ = ["SqueezeState", "squeeze_hook"]

# Bucket b's experiment seed is round_seed(seed, _BUCKET_SALT + b): independent streams per
# bucket, derived with the same mixer the Rust crates use for per-round seeds.
_BUCKET_SALT = 1 << 40


class _Bucket:
    """Feedback worker and server replica of one bucket."""

    def __init__(self, layout, worker, server):
        self.layout = layout
        self.worker = worker
        self.server = server


class SqueezeState:
    """State of :func:`squeeze_hook`.

    Args:
        process_group: the group to communicate in (``None``: the default group).
        compressor: a registry spec string, e.g. ``"top_k:ratio=0.01"``.
        feedback: ``"ef21"``, ``"ef14"``, ``"ef14:scale=S"``, ``"econtrol:eta=E"`` or
            ``"clip21:tau=T"`` (Clip21 with the compressor: Clip21-Press).
        seed: experiment seed (all ranks must pass the same).
        start_round: iterations that use plain all-reduce before compression starts.
    """

    def __init__(self, process_group=None, compressor="top_k:ratio=0.01", feedback="ef21",
                 seed=0, start_round=0):
        self.process_group = process_group
        self.compressor = Compressor(compressor).spec
        parse_feedback(feedback)
        self.feedback = feedback
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed = {seed!r} must be an integer ≥ 0")
        if not isinstance(start_round, int) or start_round < 0:
            raise ValueError(f"start_round = {start_round!r} must be an integer ≥ 0")
        self.seed = seed
        self.start_round = start_round
        self.bits_sent = 0
        self.rounds = 0
        self._buckets = {}
        self._pending = {}

    def _bucket(self, index, layout, dim, dtype, rank, world):
        entry = self._buckets.get(index)
        if entry is not None:
            if entry.layout != layout:
                raise ValueError(
                    f"DDP bucket {index} changed its parameter layout from {entry.layout} to "
                    f"{layout}; its error-feedback memory cannot be mapped onto the new layout. "
                    "Use SqueezeState(start_round=1) so that compression starts after DDP's "
                    "bucket rebuild, or build a fresh state."
                )
            return entry
        bseed = round_seed(self.seed, _BUCKET_SALT + index)
        worker = make_worker(self.feedback, dim, self.compressor, seed=bseed, worker=rank,
                             n_workers=world, dtype=dtype)
        server = make_server(self.feedback, dim, world, dtype=dtype)
        entry = _Bucket(layout, worker, server)
        saved = self._pending.pop(index, None)
        if saved is not None:
            if tuple(map(tuple, saved["layout"])) != layout:
                raise ValueError(
                    f"the loaded state of bucket {index} has layout {saved['layout']} but the "
                    f"model's bucket {index} has {layout}; load the state into the same model "
                    "with the same DDP bucketing (bucket_cap_mb) and start_round"
                )
            worker.load_state_dict(saved["worker"])
            server.load_state_dict(saved["server"])
        self._buckets[index] = entry
        return entry

    def state_dict(self):
        """Everything needed to continue bit for bit: counters and each bucket's worker and
        server states (bytes)."""
        return {
            "version": 1,
            "compressor": self.compressor,
            "feedback": self.feedback,
            "seed": self.seed,
            "start_round": self.start_round,
            "bits_sent": self.bits_sent,
            "rounds": self.rounds,
            "buckets": {
                i: {"layout": [list(s) for s in b.layout], "worker": b.worker.state_dict(),
                    "server": b.server.state_dict()}
                for i, b in self._buckets.items()
            },
        }

    def load_state_dict(self, sd):
        """Restore from :meth:`state_dict` of a state built with the same compressor,
        feedback, seed and start_round; the bucket states are applied when the buckets are
        first seen."""
        try:
            mine = (self.compressor, self.feedback, self.seed, self.start_round)
            theirs = (sd["compressor"], sd["feedback"], sd["seed"], sd["start_round"])
            if sd.get("version") != 1:
                raise ValueError(f"unsupported SqueezeState version {sd.get('version')!r}")
            if mine != theirs:
                raise ValueError(
                    f"state of (compressor, feedback, seed, start_round) = {theirs} loaded into "
                    f"{mine}; build the SqueezeState with the same arguments"
                )
            buckets = {int(i): dict(b) for i, b in sd["buckets"].items()}
            rounds, bits = int(sd["rounds"]), int(sd["bits_sent"])
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"not a SqueezeState.state_dict(): {e!r}") from None
        self.rounds, self.bits_sent = rounds, bits
        self._buckets = {}
        self._pending = buckets


def _all_gather_bytes(data, world, group):
    """All ranks' byte strings, in rank order (lengths first, then the padded bytes)."""
    n = torch.tensor([len(data)], dtype=torch.int64)
    lens = [torch.zeros(1, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(lens, n, group=group)
    lens = [int(t.item()) for t in lens]
    longest = max(lens)
    if longest == 0:
        return [b""] * world
    mine = torch.zeros(longest, dtype=torch.uint8)
    if data:
        mine[: len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    outs = [torch.empty(longest, dtype=torch.uint8) for _ in range(world)]
    dist.all_gather(outs, mine, group=group)
    return [outs[i][: lens[i]].numpy().tobytes() for i in range(world)]


def squeeze_hook(state, bucket):
    """DDP communication hook: compressed, error-feedback averaging of the bucket.

    Returns a ``torch.futures.Future`` holding the averaged gradient (the server estimate),
    identical on every rank.
    """
    group = state.process_group if state.process_group is not None else dist.group.WORLD
    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    buf = bucket.buffer()
    round_ = state.rounds
    if bucket.is_last():
        state.rounds += 1
    if round_ < state.start_round:
        state.bits_sent += buf.numel() * buf.element_size() * 8
        buf.div_(world)
        work = dist.all_reduce(buf, group=group, async_op=True)
        return work.get_future().then(lambda fut: fut.value()[0])
    if buf.dtype not in (torch.float32, torch.float64):
        raise ValueError(
            f"squeeze_hook handles float32 and float64 gradients, got {buf.dtype}; "
            "train in float32 (or register fp16_compress_wrapper around a float32 hook)"
        )
    dtype = "float32" if buf.dtype == torch.float32 else "float64"
    layout = tuple(tuple(p.shape) for p in bucket.parameters())
    entry = state._bucket(bucket.index(), layout, buf.numel(), dtype, rank, world)
    grad = buf.detach()
    host = grad.cpu().contiguous().numpy() if grad.device.type != "cpu" else grad.contiguous().numpy()
    msg = entry.worker.step(host)
    state.bits_sent += msg.bits
    received = _all_gather_bytes(msg.to_bytes(), world, group)
    entry.server.absorb(received)
    buf.copy_(torch.from_numpy(np.asarray(entry.server.estimate)))
    fut = torch.futures.Future()
    fut.set_result(buf)
    return fut
