#!/usr/bin/env bash
# Newton-3PC mechanisms against FedNL on w8a (spec §8.1; docs/reproductions.md, "Newton-3PC:
# mechanisms and λ = 1e-4"): for λ ∈ {1e-3, 1e-4}, FedNL and Newton-3PC with the EF21, CLAG,
# LAG, Bernoulli-aggregation and 3PCv1 mechanisms (a small ζ / p grid), each run from
# examples/newton/fednl_w8a.toml with `--set` overrides, plus GD (1/L) as the first-order
# baseline. Then a table of bits per worker (authors' 32-bit convention and exact) at the first
# round with f(x) − f* below each tolerance, f* = the best loss any run reached per λ. Last, the
# same on a8a for FedNL, CLAG, LAG and GD.
#
#   scripts/sweeps/x8_newton_3pc.sh target/release/squeeze runs/x8   # ≈ 5 min on 2 idle cores
#   python3 scripts/sweeps/x8_newton_table.py runs/x8
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
bin="$(realpath "${1:?BIN}")"
out="${2:?OUT_DIR}"
mkdir -p "$out"
out="$(realpath "$out")"
base=examples/newton/fednl_w8a.toml

# LAG and BAG upload dense Hessians and take no compressor (a `compressor` key is an error for
# them): their runs use a copy of the base config without that line, next to the runs, with the
# data path made absolute.
nocomp="$out/fednl_w8a_without_compressor.toml"
grep -v '^compressor = ' "$base" >"$nocomp"
data_dir="$(realpath ../shared/data/libsvm)"

run() { # cell name, then --set overrides
    local cell="$1" cfg="$base"
    shift
    if [ "$1" = --no-compressor ]; then
        cfg="$nocomp"
        shift
        set -- --set "problem.data=$data_dir/w8a" "$@"
    fi
    [ -f "$out/$cell/summary.json" ] && return 0
    "$bin" run "$cfg" --set "name=$cell" --set method.name=newton_3pc "$@" --out "$out/$cell" --quiet \
        >/dev/null 2>"$out/$cell.stderr" || echo "failed: $cell (see $out/$cell.stderr)" >&2
}

for lam in 1e-3 1e-4; do
    l=(--set "problem.regularizer.lambda=$lam")
    run "lambda=$lam fednl" "${l[@]}" --set method.name=fednl
    run "lambda=$lam ef21" "${l[@]}" --set method.mechanism=ef21
    run "lambda=$lam 3pc_v1" "${l[@]}" --set method.mechanism=3pc_v1
    for z in 0.25 1 4; do
        run "lambda=$lam clag zeta=$z" "${l[@]}" --set method.mechanism=clag --set "method.zeta=$z"
        run "lambda=$lam lag zeta=$z" --no-compressor "${l[@]}" --set method.mechanism=lag --set "method.zeta=$z"
    done
    for p in 0.1 0.5; do
        run "lambda=$lam bag p=$p" --no-compressor "${l[@]}" --set method.mechanism=bag --set "method.p=$p"
    done
    # GD at its theory stepsize, capped: it needs thousands of rounds.
    [ -f "$out/lambda=$lam gd/summary.json" ] ||
        "$bin" run examples/newton/gd_w8a.toml --set "name=lambda=$lam gd" "${l[@]}" --set stop.max_rounds=4000 \
            --set run.log_every=20 --out "$out/lambda=$lam gd" --quiet \
            >/dev/null 2>"$out/lambda=$lam gd.stderr" || echo "failed: gd $lam" >&2
done

# A second data set, a8a (22,696 × 123; not in the authors' list), split like their a9a: the
# first 22,680 rows in contiguous blocks of 405 over n = 56 workers; λ = 1e-3.
a8a=(--set "problem.data=$data_dir/a8a" --set problem.n_features=123
    --set problem.n_workers=56)
run "a8a,lambda=1e-3 fednl" "${a8a[@]}" --set method.name=fednl --set method.compressor=top_k:k=123
run "a8a,lambda=1e-3 clag zeta=4" "${a8a[@]}" --set method.mechanism=clag --set method.zeta=4 \
    --set method.compressor=top_k:k=123
run "a8a,lambda=1e-3 lag zeta=4" --no-compressor "${a8a[@]}" --set method.mechanism=lag --set method.zeta=4
[ -f "$out/a8a,lambda=1e-3 gd/summary.json" ] ||
    "$bin" run examples/newton/gd_w8a.toml --set "name=a8a gd" "${a8a[@]}" --set stop.max_rounds=4000 \
        --set run.log_every=20 --out "$out/a8a,lambda=1e-3 gd" --quiet \
        >/dev/null 2>"$out/a8a,lambda=1e-3 gd.stderr" || echo "failed: gd a8a" >&2

