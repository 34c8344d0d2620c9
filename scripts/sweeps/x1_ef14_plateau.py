#!/usr/bin/env python3
"""X1: where EF14 plateaus, as a function of the stepsize multiplier.

    scripts/sweeps/x1_ef14_plateau.py BIN OUTDIR [ROUNDS]

EF14 and EF21 on the CI's a9a-shaped problem (examples/ef21_vs_ef14/synthetic_a9a/ef14_1x.toml
with rows = 2000: nonconvex logistic regression λ = 0.1, n = 20 contiguous, Top-1, x⁰ ~ N(0, I))
at m ∈ {1, 2, 4, 8, 16} × the EF21 theory stepsize for ROUNDS rounds (default 40,000). Prints
per multiplier ‖∇f‖² at a few rounds and the "floor" = the geometric mean over the last quarter
of the run and its max/min there. Prediction (docs/reproductions.md X1): EF14's floor ∝ γ², i.e.
×4 per doubling of m, while EF21 keeps decreasing.
"""
import concurrent.futures, json, math, os, subprocess, sys

bin_, out = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 40000
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MULTS = [1, 2, 4, 8, 16]


def done(d):
    """A finished (or failed) run is reused; an interrupted one ("running") is redone."""
    try:
        return json.load(open(os.path.join(d, "summary.json")))["status"] != "running"
    except (OSError, ValueError, KeyError):
        return False


def run(method, m):
    d = os.path.join(out, f"{method}_{m}x")
    if not done(d):
        cfg = os.path.join(root, f"examples/ef21_vs_ef14/synthetic_a9a/{method}_1x.toml")
        subprocess.run([bin_, "run", cfg, "--out", d, "--quiet", "--set", "problem.rows=2000",
                        "--set", f"method.stepsize={{rule=\"theory\",multiplier={m}}}",
                        "--set", f"stop.max_rounds={rounds}", "--set", "run.log_every=100",
                        "--set", "run.checkpoint_every=0"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return [json.loads(l) for l in open(os.path.join(d, "records.jsonl"))]


jobs = [(meth, m) for m in MULTS for meth in ("ef14", "ef21")]
with concurrent.futures.ThreadPoolExecutor(int(os.environ.get("JOBS", "2"))) as pool:
    recs = dict(zip(jobs, pool.map(lambda j: run(*j), jobs)))
marks = [rounds // 8, rounds // 4, rounds // 2, rounds]
print("| m | method | " + " | ".join(f"{r:,} rounds" for r in marks) + " | last quarter: geo-mean (min–max) |")
floors = {}
for (meth, m), rs in recs.items():
    at = {r["round"]: r["grad_norm_sq"] for r in rs}
    tail = [r["grad_norm_sq"] for r in rs if r["round"] >= 0.75 * rounds]
    g = math.exp(sum(math.log(max(v, 1e-300)) for v in tail) / len(tail))
    floors[(meth, m)] = g
    print(f"| {m}× | {meth} | " + " | ".join(f"{at.get(r, float('nan')):.1e}" for r in marks) +
          f" | {g:.1e} ({min(tail):.1e}–{max(tail):.1e}) |")
print("EF14 floor ratios per doubling of m:",
      [f"{floors[('ef14', 2 * m)] / floors[('ef14', m)]:.1f}" for m in MULTS[:-1]])
