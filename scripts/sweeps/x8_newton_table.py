#!/usr/bin/env python3
"""Table of scripts/sweeps/x8_newton_3pc.sh: bits per worker to reach f(x) − f* ≤ tol.

    x8_newton_table.py OUT_DIR [--tol 1e-2,1e-4,1e-6,1e-9]

Runs are the folders OUT_DIR/"lambda=L CELL" (w8a) or OUT_DIR/"DATA,lambda=L CELL" with a
records.csv. Per λ, f* is the lowest loss
any run of that λ logged (the second-order runs stop at ‖∇f‖² ≤ 1e-24, so this is f* to
rounding). A cell of the table is "bits32 Mbit (round)" at the first logged round with
f − f* ≤ tol, in the authors' convention (32 bits per sent value, `bits_up_values32_per_worker`);
the last columns give the exact wire bits at 1e-6 and the run's rounds and final f − f*.
"""
import csv
import os
import sys


def load(path):
    rows = []
    with open(os.path.join(path, "records.csv")) as f:
        for r in csv.DictReader(f):
            if r["loss"] in ("", "nan"):
                continue
            rows.append((int(r["round"]), float(r["loss"]),
                         float(r["bits_up_values32_per_worker"]), float(r["bits_up_per_worker"])))
    return rows


def first_below(rows, fstar, tol):
    for rnd, loss, b32, bits in rows:
        if loss - fstar <= tol:
            return rnd, b32, bits
    return None


def main(argv):
    out, tols = argv[1], [1e-2, 1e-4, 1e-6, 1e-9]
    if len(argv) > 3 and argv[2] == "--tol":
        tols = [float(t) for t in argv[3].split(",")]
    runs = {}
    for name in sorted(os.listdir(out)):
        p = os.path.join(out, name)
        if os.path.isdir(p) and os.path.exists(os.path.join(p, "records.csv")) and " " in name:
            lam, cell = name.split(" ", 1)  # "lambda=1e-3 clag zeta=1" (w8a) or "a8a,lambda=1e-3 fednl"
            runs.setdefault(lam, {})[cell] = load(p)
    for lam, cells in runs.items():
        fstar = min(loss for rows in cells.values() for _, loss, _, _ in rows)
        where = lam.replace(",lambda=", ", λ = ") if "," in lam else "w8a, " + lam.replace("lambda=", "λ = ")
        print(f"\n### {where}, f* = {fstar!r}\n")
        head = " | ".join(f"{t:g}" for t in tols)
        print(f"| run | {head} | exact bits at 1e-6 | rounds, final f − f* |")
        print("|---|" + "---|" * len(tols) + "---|---|")
        order = sorted(cells, key=lambda c: (first_below(cells[c], fstar, 1e-6) or (0, 1e30))[1])
        for cell in order:
            rows = cells[cell]
            parts = []
            for t in tols:
                hit = first_below(rows, fstar, t)
                parts.append("—" if hit is None else f"{hit[1] / 1e6:.2f} Mbit ({hit[0]:,})")
            hit6 = first_below(rows, fstar, 1e-6)
            exact = "—" if hit6 is None else f"{hit6[2] / 1e6:.2f} Mbit"
            last = rows[-1]
            print(f"| {cell} | " + " | ".join(parts) + f" | {exact} | {last[0]:,}, {last[1] - fstar:.1e} |")


if __name__ == "__main__":
    main(sys.argv)
