#!/usr/bin/env bash
# X7: AdaCGD against the best fixed K (docs/reproductions.md, X7), with the spread over seeds:
# exact bits (and floats) per worker to reach ‖∇f‖² ≤ 1e-8 for EF21 with Top-K, K ∈ KS, and
# for AdaCGD over the ladder Top-{1, 2, 4, …, 64, 123 = d} with ζ ∈ ZETAS ("AdaCGD") and over
# the short ladder Top-{1, 2, 4, 8, 16} = the EF21 K's ("AdaCGD-16"), each cell at its
# best stepsize multiplier 2^0 … 2^11 of its theory stepsize, on the problem of
# examples/three_pc/x7_*.toml (a8a, nonconvex logistic regression λ = 0.1, n = 20, contiguous
# split, x⁰ ~ N(0, I) drawn from the seed: the seed changes x⁰ and nothing else).
#
#   scripts/sweeps/x7_adacgd.sh BIN OUT_DIR                 # e.g. target/release/squeeze runs/x7_sweep
#   SEEDS="1 2 3" KS="1 2 4 8 16" ZETAS="0.25 1 4 16 64" FAMILIES="ef21 adacgd adacgd16" scripts/sweeps/x7_adacgd.sh …
#
# Writes OUT_DIR/runs.tsv (one row per run), OUT_DIR/table_bits.md and table_floats.md (per
# cell: the best value per seed with its multiplier, min / median / max over the seeds, and per
# seed the ratios best AdaCGD / best EF21, best AdaCGD-16 / best EF21, best of both / best EF21).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/x6b_x7_lib.sh"
sweep_init "$here" "$@"
common=(--set run.log_every=1 --set stop.max_rounds=4000)
families=" ${FAMILIES:-ef21 adacgd adacgd16} "
short='method.ladder=["top_k:k=1", "top_k:k=2", "top_k:k=4", "top_k:k=8", "top_k:k=16"]'
for seed in ${SEEDS:-1 2 3}; do
    [[ "$families" == *" ef21 "* ]] && for k in ${KS:-1 2 4 8 16}; do
        best_cell "$bin" examples/three_pc/x7_ef21_k4.toml "$out/runs" "$tsv" "EF21 K=$k" \
            "$seed" 6 --set "method.compressor=top_k:k=$k" "${common[@]}"
    done
    [[ "$families" == *" adacgd "* ]] && for z in ${ZETAS:-0.25 1 4 16 64}; do
        best_cell "$bin" examples/three_pc/x7_adacgd.toml "$out/runs" "$tsv" "AdaCGD zeta=$z" \
            "$seed" 2 --set "method.zeta=$z" "${common[@]}"
    done
    [[ "$families" == *" adacgd16 "* ]] && for z in ${ZETAS:-0.25 1 4 16 64}; do
        best_cell "$bin" examples/three_pc/x7_adacgd.toml "$out/runs" "$tsv" "AdaCGD-16 zeta=$z" \
            "$seed" 6 --set "$short" --set "method.zeta=$z" "${common[@]}"
    done
    echo "seed $seed done" >&2
done
for metric in bits floats; do
    python3 "$here/x6b_x7_table.py" "$tsv" --metric "$metric" --compare '^AdaCGD zeta' '^EF21' \
        --compare '^AdaCGD-16 ' '^EF21' --compare '^AdaCGD' '^EF21' >"$out/table_$metric.md"
done
cat "$out/table_bits.md"
