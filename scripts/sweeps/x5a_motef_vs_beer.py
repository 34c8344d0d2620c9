#!/usr/bin/env python3
"""X5(a): MoTEF vs BEER vs CHOCO-SGD, tuned on one seed, judged on four others.

    scripts/sweeps/x5a_motef_vs_beer.py BIN OUTDIR

Base configs: examples/motef/{motef,beer,choco}_a9a.toml (a8a sorted by label, n = 100 ring,
QSGD s = 16, minibatch 5; MoTEF and BEER 6,000 rounds, CHOCO-SGD 12,000 = the same bits).
Criterion, fixed before the runs (docs/reproductions.md, X5(a)): the score of a run is the
geometric mean of ‖∇f(x̄)‖² over its records in the last 10 % of its rounds (∞ if it fails);
each method is tuned on seed 1 over the same η × γ grid (MoTEF also over λ) and judged with its
tuned parameters on seeds 2–5. "MoTEF ≤ BEER per bit" reproduces if MoTEF's score is lower on
≥ 3 of the 4 seeds and the median ratio MoTEF/BEER is < 1; it fails if BEER wins ≥ 3 of 4.
The seed changes each node's minibatch draws and the QSGD rounding stream (x⁰ = 0, the split
and the ring are deterministic).
"""
import concurrent.futures, itertools, json, math, os, statistics, subprocess, sys

bin_, out = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ETAS, GAMMAS, LAMBDAS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1], [0.2, 0.5, 1.0], [0.001, 0.01, 0.1]
ETAS_CHOCO = [0.01, 0.05, 0.1]
TUNE_SEED, JUDGE_SEEDS = 1, [2, 3, 4, 5]
JOBS = int(os.environ.get("JOBS", "4"))


def done(d):
    """A finished (or failed) run is reused; an interrupted one ("running") is redone."""
    try:
        return json.load(open(os.path.join(d, "summary.json")))["status"] != "running"
    except (OSError, ValueError, KeyError):
        return False


def run(method, seed, params):
    tag = "_".join(f"{k}{v:g}" for k, v in params.items())
    d = os.path.join(out, method, f"seed{seed}_{tag}")
    if not done(d):
        args = [bin_, "run", os.path.join(root, f"examples/motef/{method}_a9a.toml"), "--out", d,
                "--quiet", "--set", f"seed={seed}"]
        for k, v in params.items():
            args += ["--set", f"method.{k}={v}"]
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        recs = [json.loads(l) for l in open(os.path.join(d, "records.jsonl"))]
    except OSError:
        return math.inf
    last = recs[-1]["round"]
    tail = [r["grad_norm_sq"] for r in recs if r["round"] >= 0.9 * last]
    if last == 0 or not all(v is not None and math.isfinite(v) and v > 0 for v in tail):
        return math.inf
    return math.exp(statistics.fmean(math.log(v) for v in tail))


grids = {
    "motef": [dict(eta=e, gamma=g, **{"lambda": l}) for e, g, l in itertools.product(ETAS, GAMMAS, LAMBDAS)],
    "beer": [dict(eta=e, gamma=g) for e, g in itertools.product(ETAS, GAMMAS)],
    # CHOCO-SGD (one message per round, twice the rounds) only on the paper's η range
    "choco": [dict(eta=e, gamma=g) for e, g in itertools.product(ETAS_CHOCO, GAMMAS)],
}
pool = concurrent.futures.ThreadPoolExecutor(JOBS)
best = {}
for m, grid in grids.items():
    scores = list(zip(pool.map(lambda p: run(m, TUNE_SEED, p), grid), grid))
    for s, p in scores:
        print(f"tune {m} {p}: {s:.3e}", flush=True)
    best[m] = min(scores, key=lambda t: t[0])
    print(f"best {m}: {best[m][1]} score {best[m][0]:.3e}", flush=True)

res = {m: list(pool.map(lambda s: run(m, s, best[m][1]), JUDGE_SEEDS)) for m in grids}
print("| method | tuned (seed 1) | " + " | ".join(f"seed {s}" for s in JUDGE_SEEDS) + " | median |")
for m in grids:
    print(f"| {m} | {best[m][1]} | " + " | ".join(f"{v:.2e}" for v in res[m]) +
          f" | {statistics.median(res[m]):.2e} |")
ratios = [a / b for a, b in zip(res["motef"], res["beer"])]
wins = sum(r < 1 for r in ratios)
print("MoTEF/BEER ratios:", [f"{r:.2f}" for r in ratios], "median", f"{statistics.median(ratios):.2f}",
      "MoTEF wins", wins, "of", len(ratios))
verdict = ("reproduces" if wins >= 3 and statistics.median(ratios) < 1
           else "does not hold" if wins <= 1 else "tie within seed noise")
print("verdict (MoTEF ≤ BEER per bit):", verdict)
print("MoTEF/CHOCO ratios:", [f"{a / b:.3f}" for a, b in zip(res["motef"], res["choco"])])
json.dump({"best": {m: best[m][1] for m in best}, "judge": res}, open(os.path.join(out, "x5a.json"), "w"))
