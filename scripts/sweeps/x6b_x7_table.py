#!/usr/bin/env python3
"""Tables of "bits to reach the tolerance" from the TSV rows of scripts/sweeps/x6b_x7_lib.sh.

    x6b_x7_table.py TSV [--metric bits|floats] [--offset F] [--compare REGEX_A REGEX_B]... [--matrix]

Per cell and seed: the fewest bits (or floats) per worker over the multipliers that reached the
tolerance (`-` if none did), plus min / median / max over the seeds (a cell missing a seed has
no summary). `--offset F` adds F per worker to every value (e.g. the d floats of the initial
dense round that the CLAG code counts). `--compare A B`: per seed, the best cell whose name
matches the regular expression A over the best cell matching B, and min / median / max of that
ratio (repeatable).
`--matrix` (cells named "K=k zeta=z"): also a K × ζ table of "median (min–max)" over the seeds
and, per seed, the best cell.
"""
import re
import statistics
import sys


def main(argv):
    path, metric, offset, compares, matrix = argv[1], "bits", 0.0, [], False
    i = 2
    while i < len(argv):
        if argv[i] == "--metric":
            metric, i = argv[i + 1], i + 2
        elif argv[i] == "--offset":
            offset, i = float(argv[i + 1]), i + 2
        elif argv[i] == "--matrix":
            matrix, i = True, i + 1
        elif argv[i] == "--compare":
            compares.append((argv[i + 1], argv[i + 2]))
            i += 3
        else:
            sys.exit(f"unknown argument {argv[i]}")
    col = 6 if metric == "bits" else 7
    best, cells, seeds = {}, [], []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        cell, seed, mult, status, reason = f[0], f[1], f[2], f[3], f[4]
        if cell not in cells:
            cells.append(cell)
        if seed not in seeds:
            seeds.append(seed)
        if status == "finished" and "arget" in reason:
            v = float(f[col]) + offset
            if (cell, seed) not in best or v < best[(cell, seed)][0]:
                best[(cell, seed)] = (v, mult)
    fmt = (lambda v: f"{v:,.0f}")
    print(f"| cell | " + " | ".join(f"seed {s} (×mult)" for s in seeds) + " | min / median / max |")
    print("|---" * (len(seeds) + 2) + "|")
    for c in cells:
        vals = [best.get((c, s)) for s in seeds]
        row = [f"{fmt(v[0])} (×{v[1]})" if v else "-" for v in vals]
        got = [v[0] for v in vals if v]
        summ = (f"{fmt(min(got))} / {fmt(statistics.median(got))} / {fmt(max(got))}"
                if len(got) == len(seeds) else "-")
        print(f"| {c} | " + " | ".join(row) + f" | {summ} |")
    if matrix:
        print_matrix(cells, seeds, best)
    for a, b in compares:
        print()
        ratios = []
        for s in seeds:
            va = [best[(c, s)][0] for c in cells if re.search(a, c) and (c, s) in best]
            vb = [best[(c, s)][0] for c in cells if re.search(b, c) and (c, s) in best]
            if va and vb:
                ratios.append(min(va) / min(vb))
                print(f"seed {s}: best /{a}/ over best /{b}/ = {min(va):,.0f} / {min(vb):,.0f} = {ratios[-1]:.3f}")
        if ratios:
            print(f"/{a}/ over /{b}/, ratio min / median / max: {min(ratios):.3f} / {statistics.median(ratios):.3f} / {max(ratios):.3f}")



def print_matrix(cells, seeds, best):
    ks, zs = [], []
    for c in cells:
        k, z = (p.split("=")[1] for p in c.split())
        ks += [k] if k not in ks else []
        zs += [z] if z not in zs else []
    fmt = (lambda v: f"{v:,.0f}")
    print()
    print("| K \\ ζ | " + " | ".join(zs) + " |")
    print("|---" * (len(zs) + 1) + "|")
    for k in ks:
        row = []
        for z in zs:
            got = [best[(f"K={k} zeta={z}", s)][0] for s in seeds if (f"K={k} zeta={z}", s) in best]
            row.append(f"{fmt(statistics.median(got))} ({fmt(min(got))}–{fmt(max(got))})"
                       if len(got) == len(seeds) else "-")
        print(f"| {k} | " + " | ".join(row) + " |")
    print()
    for s in seeds:
        here = [(best[(c, s)][0], c) for c in cells if (c, s) in best]
        if here:
            v, c = min(here)
            print(f"seed {s}: best cell {c}: {fmt(v)}")


if __name__ == "__main__":
    main(sys.argv)
