#!/usr/bin/env bash
# X6(b): the CLAG heat map of the 3PC paper (docs/reproductions.md, X6(b)) with its spread
# over starting points: bits (and floats) per worker to reach ‖∇f‖ ≤ 1e-4 for every cell
# K × ζ, each at its best stepsize multiplier 2^0 … 2^11 of the CLAG theory stepsize
# 1/(L + L̃·sqrt(max(β, ζ)/θ)) (the CLAG code's "CLAG" alignment), on the problem of
# examples/three_pc/x6b_clag_k1_zeta1.toml (a8a, nonconvex logistic regression λ = 0.1, n = 20,
# contiguous split, remainder dropped).
#
#   scripts/sweeps/x6b_clag_heatmap.sh BIN OUT_DIR        # e.g. target/release/squeeze runs/x6b_sweep
#   SEEDS="0 1 2 3" KS="1 2 4 8 16 123" ZETAS="0 1 4 16 64" scripts/sweeps/x6b_clag_heatmap.sh …
#
# Seed 0 is the paper's x⁰ = 0 (the seed changes nothing there: Top-K is deterministic and the
# split is not shuffled); seeds s ≥ 1 start from x⁰ ~ N(0, I) drawn from s. Writes
# OUT_DIR/runs.tsv (one row per run) and OUT_DIR/table_floats.md / table_bits.md (per cell:
# the best value per seed with its multiplier, and min / median / max over the seeds; the K × ζ
# matrix of medians; per seed the claims' ratios: best ζ > 0 / best ζ = 0, best 1 < K < d /
# best K = 1 and / best K = d; floats include the d = 123 floats of the initial dense round that
# the CLAG code counts).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/x6b_x7_lib.sh"
sweep_init "$here" "$@"
cfg=examples/three_pc/x6b_clag_k1_zeta1.toml
for seed in ${SEEDS:-0 1 2 3}; do
    if [ "$seed" = 0 ]; then init='problem.init={ kind = "zeros" }'
    else init='problem.init={ kind = "gaussian", std = 1.0 }'; fi
    for k in ${KS:-1 2 4 8 16 123}; do
        # first multiplier tried: where EF21 was best on the ℓ2 variant of this problem
        case "$k" in 1 | 2 | 4) e0=6 ;; 8 | 16) e0=5 ;; *) e0=1 ;; esac
        for z in ${ZETAS:-0 1 4 16 64}; do
            best_cell "$bin" "$cfg" "$out/runs" "$tsv" "K=$k zeta=$z" "$seed" "$e0" \
                --set "$init" --set "method.compressor=top_k:k=$k" --set "method.zeta=$z" \
                --set run.log_every=1 --set stop.max_rounds=4000
        done
        echo "seed $seed K=$k done" >&2
    done
done
claims=(--matrix --compare 'zeta=(1|4|16|64)$' 'zeta=0$' --compare '^K=(2|4|8|16) ' '^K=1 '
    --compare '^K=(2|4|8|16) ' '^K=123 ')
python3 "$here/x6b_x7_table.py" "$tsv" --metric floats --offset 123 "${claims[@]}" >"$out/table_floats.md"
python3 "$here/x6b_x7_table.py" "$tsv" --metric bits "${claims[@]}" >"$out/table_bits.md"
cat "$out/table_floats.md"
