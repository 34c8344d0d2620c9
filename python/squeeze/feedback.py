"""Push-style error-feedback mechanisms (the Rust crate ``squeeze-feedback``).

Worker side: ``worker.step(v) -> Message`` with ``v`` the vector your own training loop has
(a gradient, a momentum, a model delta); send ``message.to_bytes()``.
Server side: ``Aggregator.absorb([msg_or_bytes for each worker, in worker order])`` and
``Aggregator.estimate``.

=================  ==============================================  ===========================
mechanism          worker                                          server
=================  ==============================================  ===========================
EF21               ``Ef21Worker(dim, compressor)``                 ``Ef21Server`` (running)
EF14               ``Ef14Worker(dim, compressor, scale=1.0)``      ``Ef14Server`` (mean)
EControl           ``EcontrolWorker(dim, compressor, eta)``        ``EcontrolServer`` (running)
Clip21             ``Clip21Worker(dim, tau, compressor=None)``     ``Clip21Server`` (running)
=================  ==============================================  ===========================

Every worker takes ``seed=0, worker=0, n_workers=1, dtype="float32"``; step ``r`` of worker
``i`` draws from worker ``i``'s compression stream of ``seed`` and the shared round seed
``round_seed(seed, r)``, exactly like the Rust push API. ``state_dict()`` /
``load_state_dict()`` round-trip the state bit for bit (checkpoints).
"""

from ._native import (
    Aggregator,
    Clip21Worker,
    EcontrolWorker,
    Ef14Worker,
    Ef21Worker,
    Worker,
)


def Ef21Server(dim, n_workers, dtype=None):
    """EF21's server: the running mean of the workers' estimates (``g += mean(c_i)``)."""
    return Aggregator(dim, n_workers, dtype=dtype, running=True)


def EcontrolServer(dim, n_workers, dtype=None):
    """EControl's server: the running mean ``h += mean(Δ_i)``."""
    return Aggregator(dim, n_workers, dtype=dtype, running=True)


def Clip21Server(dim, n_workers, dtype=None):
    """Clip21's server: the running mean ``g += mean(u_i)``."""
    return Aggregator(dim, n_workers, dtype=dtype, running=True)


def Ef14Server(dim, n_workers, dtype=None):
    """EF14's server: the mean of this round's messages (step with ``-estimate``)."""
    return Aggregator(dim, n_workers, dtype=dtype, running=False)


def parse_feedback(spec):
    """``"ef21"``, ``"ef14[:scale=S]"``, ``"econtrol:eta=E"``, ``"clip21:tau=T"`` →
    ``(name, params dict)``; raises ``ValueError`` with the accepted forms."""
    forms = 'use "ef21", "ef14", "ef14:scale=1.0", "econtrol:eta=0.1" or "clip21:tau=1.0"'
    if not isinstance(spec, str):
        raise ValueError(f"feedback must be a string; {forms}")
    name, _, rest = spec.strip().partition(":")
    params = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        try:
            if not eq:
                raise ValueError
            params[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"feedback {spec!r}: malformed parameter {part!r}; {forms}") from None
    allowed = {"ef21": set(), "ef14": {"scale"}, "econtrol": {"eta"}, "clip21": {"tau"}}
    if name not in allowed:
        raise ValueError(f"unknown feedback mechanism {name!r}; {forms}")
    unknown = set(params) - allowed[name]
    if unknown:
        raise ValueError(f"feedback {spec!r}: unknown parameter(s) {sorted(unknown)}; {forms}")
    required = {"econtrol": "eta", "clip21": "tau"}.get(name)
    if required and required not in params:
        raise ValueError(f"feedback {spec!r} needs {required}; {forms}")
    return name, params


def make_worker(spec, dim, compressor, seed=0, worker=0, n_workers=1, dtype=None):
    """A worker of the mechanism named by ``spec`` (see :func:`parse_feedback`)."""
    name, p = parse_feedback(spec)
    common = dict(seed=seed, worker=worker, n_workers=n_workers, dtype=dtype)
    if name == "ef21":
        return Ef21Worker(dim, compressor, **common)
    if name == "ef14":
        return Ef14Worker(dim, compressor, scale=p.get("scale", 1.0), **common)
    if name == "econtrol":
        return EcontrolWorker(dim, compressor, p["eta"], **common)
    return Clip21Worker(dim, p["tau"], compressor=compressor, **common)


def make_server(spec, dim, n_workers, dtype=None):
    """The server matching :func:`make_worker` for ``spec``."""
    name, _ = parse_feedback(spec)
    return Aggregator(dim, n_workers, dtype=dtype, running=(name != "ef14"))


__all__ = [
    "Aggregator",
    "Clip21Server",
    "Clip21Worker",
    "EcontrolServer",
    "EcontrolWorker",
    "Ef14Server",
    "Ef14Worker",
    "Ef21Server",
    "Ef21Worker",
    "Worker",
    "make_server",
    "make_worker",
    "parse_feedback",
]
