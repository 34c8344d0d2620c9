#!/usr/bin/env python3
"""EControl's default η: sweep η = c·α over the X3 problems and two logistic regressions.

    scripts/sweeps/x3_eta_default.py BIN OUTDIR

Runs every (problem, c) cell with BIN (`squeeze`), then prints one row per problem: ‖∇f‖² at
the start and at the end for each c, "div" where the run diverged (non-finite, error, or ending
above its start). Criterion fixed before the runs (docs/reproductions.md, X3): the new default is
the c with the lowest median over problems of log10(final ‖∇f‖²), among the c that converge
(end below start) on every problem where c = 1/400 converges. Deterministic (full gradients,
Top-K): one seed suffices. The logistic problems need ../shared/data/libsvm/a8a.
"""
import json, math, os, statistics, subprocess, sys

bin_, out = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CS = [("1/400", 1 / 400), ("1/100", 1 / 100), ("1/40", 1 / 40), ("1/20", 1 / 20), ("1/10", 1 / 10),
      ("1/4", 1 / 4), ("1/2", 1 / 2), ("1", 1.0)]
Q = "examples/econtrol/x3_econtrol_zeta1.toml"
LOGREG = os.path.join(root, "..", "shared", "data", "libsvm", "a8a")


def quad(d, n, k, gamma, zeta, rounds):
    return Q, k / d, [f"problem.dim={d}", f"problem.n_workers={n}", f"problem.heterogeneity={zeta}",
                      f'method.compressor="top_k:k={k}"', f"method.stepsize.gamma={gamma}",
                      f"stop.max_rounds={rounds}", "run.log_every=100"]


PROBLEMS = {
    # the reduced X3 (CI test) at γ·L_max = 0.2 and 0.5, ζ ∈ {0, 10}
    "quad d20 n10 Top2 γ.02 ζ0": quad(20, 10, 2, 0.02, 0.0, 3000),
    "quad d20 n10 Top2 γ.02 ζ10": quad(20, 10, 2, 0.02, 10.0, 3000),
    "quad d20 n10 Top2 γ.05 ζ0": quad(20, 10, 2, 0.05, 0.0, 3000),
    "quad d20 n10 Top2 γ.05 ζ10": quad(20, 10, 2, 0.05, 10.0, 3000),
    # near the stability edge in γ (γ·L_max = 0.65; 8× the theory stepsize diverges for every η)
    "quad d20 n10 Top2 γ.065 ζ0": quad(20, 10, 2, 0.065, 0.0, 3000),
    "quad d20 n10 Top2 γ.065 ζ10": quad(20, 10, 2, 0.065, 10.0, 3000),
    # the full-size X3 stand-in (examples/econtrol), 6,000 rounds
    "quad d200 n20 Top20 γ.01 ζ1": quad(200, 20, 20, 0.01, 1.0, 6000),
    "quad d200 n20 Top20 γ.01 ζ100": quad(200, 20, 20, 0.01, 100.0, 6000),
}
# stochastic gradients (σ = 1), the noise floor: the end value is the last record
PROBLEMS["quad d20 n10 Top2 γ.005 ζ10 σ1"] = (
    Q, 0.1, quad(20, 10, 2, 0.005, 10.0, 20000)[2] + ['method.gradient={kind="noisy",sigma=1.0}'])
for mult in (1.0, 4.0):
    PROBLEMS[f"logreg a8a n20 sorted Top1 {mult:g}×theory"] = (
        Q, 1 / 123,
        ['problem.kind="logreg"', f'problem.data="{LOGREG}"', "problem.n_workers=20",
         'problem.split="sorted_by_label"', 'problem.regularizer={kind="nonconvex",lambda=0.1}',
         'problem.init={kind="zeros"}', 'method.compressor="top_k:k=1"',
         f'method.stepsize={{rule="theory",multiplier={mult}}}', "stop.max_rounds=3000",
         "run.log_every=100"])


def done(d):
    """A finished (or failed) run is reused; an interrupted one ("running") is redone."""
    try:
        return json.load(open(os.path.join(d, "summary.json")))["status"] != "running"
    except (OSError, ValueError, KeyError):
        return False


def run(name, cfg, sets, eta):
    d = os.path.join(out, name.replace(" ", "_").replace("×", "x").replace("γ", "g").replace("ζ", "z"),
                     f"eta{eta:.3e}")
    if not done(d):
        args = [bin_, "run", os.path.join(root, cfg), "--out", d, "--quiet", "--set", f"method.eta={eta}"]
        for s in sets:
            args += ["--set", s]
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        recs = [json.loads(l) for l in open(os.path.join(d, "records.jsonl"))]
        s = json.load(open(os.path.join(d, "summary.json")))
    except (OSError, ValueError):
        return None, None
    start, end = recs[0]["grad_norm_sq"], s["last"]["grad_norm_sq"]
    ok = s["status"] == "finished" and end is not None and math.isfinite(end) and end < start
    return start, (end if ok else None)


table = {}
for name, (cfg, alpha, sets) in PROBLEMS.items():
    row = []
    for _, c in CS:
        start, end = run(name, cfg, sets, c * alpha)
        row.append(end)
    table[name] = (start, alpha, row)
    print(f"| {name} | α = {alpha:.4g} | {start:.2g} | " +
          " | ".join("div" if e is None else f"{e:.1e}" for e in row) + " |", flush=True)

base = [i for i, (_, _, row) in enumerate(table.values())]
safe = []
for j, (label, _) in enumerate(CS):
    if all(row[j] is not None for (_, _, row) in table.values() if row[0] is not None):
        safe.append(j)
print("converges wherever 1/400 converges:", [CS[j][0] for j in safe])
floor = 1e-300
med = {CS[j][0]: statistics.median(math.log10(max(row[j], floor)) for (_, _, row) in table.values()
                                   if row[j] is not None) for j in safe}
print("median log10(final ‖∇f‖²):", {k: round(v, 1) for k, v in med.items()})
print("choice:", min(med, key=med.get))
