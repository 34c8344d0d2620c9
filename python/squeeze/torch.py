"""A PyTorch DDP communication hook that sends compressed, error-feedback messages.

::

    from squeeze.torch import SqueezeState, squeeze_hook
    state = SqueezeState(compressor="top_k:ratio=0.01", feedback="ef21", seed=0)
    ddp_model.register_comm_hook(state, squeeze_hook)

Per bucket and iteration each rank runs its feedback worker on the bucket's gradient
(compression and encoding in Rust, GIL released), the encoded messages are exchanged with
``torch.distributed.all_gather`` (lengths first, then the bytes padded to the longest), every
rank decodes all messages in rank order and applies them to its replica of the server, whose
estimate is the averaged gradient the hook returns. All ranks hold bit-identical averages.

**State and bucket rebuilds.** Feedback state (a worker and a server replica) belongs to a
*group* of parameters, identified by the parameters' positions in the order the hook first
saw them (DDP's initial bucket order, the same for the same model in every process). A bucket
that is exactly a union of existing groups is compressed group by group, so a checkpoint
restored into a fresh DDP model (whose first iteration uses DDP's initial bucket layout)
continues bit for bit. When DDP rebuilds its buckets (after the first iteration) and a bucket
cuts across groups, those groups are dissolved and the error-feedback memory (the workers'
vectors and the server estimate) is carried over coordinate by coordinate into the new
bucket's group; only the random streams start afresh (derived from the seed and the group).
Memory is never reset silently: a parameter whose shape differs from the one recorded for its
position raises ``ValueError``.

``state.bits_sent`` counts the exact encoded bits this rank sent (plain all-reduce rounds
before ``start_round`` count the dense bucket size); ``state.rounds`` counts completed
iterations; ``state.state_dict()`` / ``load_state_dict()`` carry everything (each rank saves
its own, e.g. ``torch.save(state.state_dict(), f"hook-rank{rank}.pt")``).
"""

import struct

import numpy as np
import torch
import torch.distributed as dist

from ._native import Compressor, round_seed
from .feedback import make_server, make_worker, parse_feedback

__all__ = ["SqueezeState", "squeeze_hook"]

# A group's experiment seed folds round_seed(s, _SALT + id) over its parameter ids: independent
# streams per group, derived with the mixer the Rust crates use for per-round seeds.
_SALT = 1 << 40


class _Group:
    """Feedback worker and server replica of one group of parameters."""

    def __init__(self, ids, sizes, worker, server):
        self.ids = ids
        self.sizes = sizes
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
        self._ids = {}        # id(parameter tensor) -> position
        self._shapes = []     # shape by position
        self._expected = None  # shapes by position from a loaded state
        self._groups = {}     # tuple of positions -> _Group
        self._owner = {}      # position -> tuple of positions of its group
        self._loose = {}      # position -> {"mem": {name: array}, "est": array}
        self._dtype = None

    # -- parameter identity ------------------------------------------------------------
    def _param_id(self, p):
        # the storage address identifies a parameter for the life of the model (empty
        # parameters share address 0, so they are told apart by their Python object)
        key = p.data_ptr() if p.numel() else ("empty", id(p))
        pid = self._ids.get(key)
        shape = list(p.shape)
        if pid is None:
            pid = len(self._shapes)
            if self._expected is not None:
                if pid >= len(self._expected) or list(self._expected[pid]) != shape:
                    want = self._expected[pid] if pid < len(self._expected) else "nothing"
                    raise ValueError(
                        f"parameter {pid} (in the hook's first-seen order) has shape {shape} but "
                        f"the loaded state recorded {want}; load the state into the same model "
                        "(same parameters, same DDP bucket_cap_mb)"
                    )
            self._ids[key] = pid
            self._shapes.append(shape)
        elif self._shapes[pid] != shape:
            raise ValueError(
                f"parameter {pid} changed shape from {self._shapes[pid]} to {shape}; its "
                "error-feedback memory cannot be mapped; build a fresh SqueezeState"
            )
        return pid

    # -- groups ------------------------------------------------------------------------
    def _group_seed(self, ids):
        s = self.seed
        for i in ids:
            s = round_seed(s, _SALT + i)
        return s

    def _new_group(self, ids, sizes, dtype, rank, world):
        dim = sum(sizes)
        worker = make_worker(self.feedback, dim, self.compressor, seed=self._group_seed(ids),
                             worker=rank, n_workers=world, dtype=dtype)
        server = make_server(self.feedback, dim, world, dtype=dtype)
        return _Group(ids, sizes, worker, server)

    def _dissolve(self, key):
        """Move a group's memory into per-parameter slices (no value is lost)."""
        g = self._groups.pop(key)
        mem = dict(g.worker.memory())
        est = g.server.estimate
        off = 0
        for pid, n in zip(g.ids, g.sizes):
            self._loose[pid] = {"mem": {k: v[off:off + n].copy() for k, v in mem.items()},
                                "est": est[off:off + n].copy()}
            self._owner.pop(pid, None)
            off += n

    def _groups_for(self, ids, sizes, dtype, rank, world):
        """The groups that exactly cover a bucket's parameters, regrouping if needed."""
        if self._dtype is None:
            self._dtype = dtype
        elif self._dtype != dtype:
            raise ValueError(f"gradients changed dtype from {self._dtype} to {dtype}")
        bucket = set(ids)
        owners = []
        for i in ids:
            o = self._owner.get(i)
            if o is not None and o not in owners:
                owners.append(o)
        if all(i in self._owner for i in ids) and all(set(o) <= bucket for o in owners):
            groups = [self._groups[o] for o in owners]
            for g in groups:
                if (g.worker.worker, g.worker.n_workers) != (rank, world):
                    raise ValueError(
                        f"the feedback state of parameters {list(g.ids)} belongs to rank "
                        f"{g.worker.worker} of {g.worker.n_workers}, but this is rank {rank} of "
                        f"{world}; every rank loads the state_dict() it saved itself"
                    )
            return groups
        for o in owners:
            self._dissolve(o)
        key = tuple(ids)
        g = self._new_group(key, tuple(sizes), dtype, rank, world)
        if any(i in self._loose for i in ids):
            names = [n for n, _ in g.worker.memory()]
            parts = [self._loose.pop(i, None) for i in ids]
            zeros = [np.zeros(n, dtype=dtype) for n in sizes]
            for name in names:
                g.worker.set_memory(name, np.concatenate(
                    [p["mem"][name] if p else z for p, z in zip(parts, zeros)]))
            g.server.set_estimate(np.concatenate(
                [p["est"] if p else z for p, z in zip(parts, zeros)]))
        self._groups[key] = g
        for i in ids:
            self._owner[i] = key
        return [g]

    # -- checkpoints -------------------------------------------------------------------
    def state_dict(self):
        """Everything needed to continue bit for bit: counters, parameter shapes by position,
        each group's worker and server state (bytes) and any carried-over memory."""
        return {
            "version": 2,
            "compressor": self.compressor,
            "feedback": self.feedback,
            "seed": self.seed,
            "start_round": self.start_round,
            "bits_sent": self.bits_sent,
            "rounds": self.rounds,
            "dtype": self._dtype,
            "shapes": [list(s) for s in self._known_shapes()],
            "groups": [{"ids": list(g.ids), "sizes": list(g.sizes),
                        "worker": g.worker.state_dict(), "server": g.server.state_dict()}
                       for g in self._groups.values()],
            "loose": {pid: {"mem": {k: v.tobytes() for k, v in e["mem"].items()},
                            "est": e["est"].tobytes()} for pid, e in self._loose.items()},
        }

    def _known_shapes(self):
        if self._expected is not None and len(self._expected) > len(self._shapes):
            return self._expected
        return self._shapes

    def load_state_dict(self, sd):
        """Restore from :meth:`state_dict` of a state built with the same compressor,
        feedback, seed and start_round (on the same rank of the same world size)."""
        try:
            if sd.get("version") != 2:
                raise ValueError(f"unsupported SqueezeState version {sd.get('version')!r}")
            mine = (self.compressor, self.feedback, self.seed, self.start_round)
            theirs = (sd["compressor"], sd["feedback"], sd["seed"], sd["start_round"])
            if mine != theirs:
                raise ValueError(
                    f"state of (compressor, feedback, seed, start_round) = {theirs} loaded into "
                    f"{mine}; build the SqueezeState with the same arguments"
                )
            rounds, bits, dtype = int(sd["rounds"]), int(sd["bits_sent"]), sd["dtype"]
            shapes = [list(s) for s in sd["shapes"]]
            groups, owner = {}, {}
            for e in sd["groups"]:
                ids, sizes = tuple(int(i) for i in e["ids"]), tuple(int(n) for n in e["sizes"])
                w = make_worker(self.feedback, sum(sizes), self.compressor,
                                seed=self._group_seed(ids), dtype=dtype)
                w.load_state_dict(e["worker"])
                s = make_server(self.feedback, sum(sizes), w.n_workers, dtype=dtype)
                s.load_state_dict(e["server"])
                groups[ids] = _Group(ids, sizes, w, s)
                owner.update((i, ids) for i in ids)
            loose = {int(pid): {"mem": {k: np.frombuffer(v, dtype=dtype).copy()
                                        for k, v in e["mem"].items()},
                                "est": np.frombuffer(e["est"], dtype=dtype).copy()}
                     for pid, e in sd["loose"].items()}
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"not a SqueezeState.state_dict(): {e!r}") from None
        self.rounds, self.bits_sent, self._dtype = rounds, bits, dtype
        self._ids, self._shapes, self._expected = {}, [], shapes
        self._groups, self._owner, self._loose = groups, owner, loose


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


def _pack(chunks):
    """Length-prefixed concatenation of several messages (one exchange per bucket)."""
    head = struct.pack(f"<I{len(chunks)}I", len(chunks), *map(len, chunks))
    return head + b"".join(chunks)


def _unpack(data, count, rank):
    try:
        (n,) = struct.unpack_from("<I", data)
        if n != count:
            raise ValueError
        lens = struct.unpack_from(f"<{n}I", data, 4)
        out, off = [], 4 + 4 * n
        for ln in lens:
            out.append(data[off:off + ln])
            off += ln
        if off != len(data):
            raise ValueError
        return out
    except (struct.error, ValueError):
        raise ValueError(
            f"rank {rank} sent a bucket payload that does not split into {count} messages; "
            "every rank must run the same model with the same SqueezeState arguments"
        ) from None


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
            "train in float32"
        )
    dtype = "float32" if buf.dtype == torch.float32 else "float64"
    params = bucket.parameters()
    ids = [state._param_id(p) for p in params]
    sizes = [p.numel() for p in params]
    offset = dict(zip(ids, np.cumsum([0] + sizes[:-1]).tolist()))
    on_cpu = buf.device.type == "cpu"
    flat = buf.detach().numpy() if on_cpu else buf.detach().cpu().numpy()
    groups = state._groups_for(ids, sizes, dtype, rank, world)

    def spans(g):
        return [(offset[i], n) for i, n in zip(g.ids, g.sizes)]

    def contiguous(g):
        sp = spans(g)
        start = sp[0][0]
        return all(o == start + sum(n for _, n in sp[:k]) for k, (o, _) in enumerate(sp))

    def view(g):
        if contiguous(g):
            start = offset[g.ids[0]]
            return flat[start:start + sum(g.sizes)]  # zero copy
        return np.concatenate([flat[o:o + n] for o, n in spans(g)])

    # every group reads the gradient before any estimate is written back into the buffer
    msgs = [g.worker.step(view(g)) for g in groups]
    state.bits_sent += sum(m.bits for m in msgs)
    payload = msgs[0].to_bytes() if len(groups) == 1 else _pack([m.to_bytes() for m in msgs])
    received = _all_gather_bytes(payload, world, group)
    if len(groups) > 1:
        received = [_unpack(d, len(groups), r) for r, d in enumerate(received)]
    for j, g in enumerate(groups):
        g.server.absorb([r[j] for r in received] if len(groups) > 1 else received)
        if contiguous(g):
            g.server.estimate_into(view(g))
        else:
            est, off = g.server.estimate, 0
            for o, n in spans(g):
                flat[o:o + n] = est[off:off + n]
                off += n
    if not on_cpu:
        buf.copy_(torch.from_numpy(flat))
    fut = torch.futures.Future()
    fut.set_result(buf)
    return fut
