# Shared by scripts/sweeps/x6b_clag_heatmap.sh and scripts/sweeps/x7_adacgd.sh (sourced, not run):
# the budgeted stepsize search of one cell of a "bits to reach the tolerance" grid.
#
#   sweep_init HERE BIN OUT_DIR   # cd to the repository (HERE/../..); sets bin, out, tsv=OUT_DIR/runs.tsv (emptied)
#
#   best_cell BIN CONFIG OUTDIR TSV CELL SEED E0 [--set k=v]...
#
# Tries the stepsize multipliers 2^e, e ∈ {0, …, 11} (the CLAG code's grid), each run of CONFIG
# with `--set seed=SEED` and stopped at the config's tolerance, at its max_rounds, on
# divergence, or as soon as it has sent more exact bits per worker than the cell's best run so
# far (`stop.bit_budget_per_worker`: such a run cannot be the cell's best). Order: e = E0 first;
# if it fails, E0−1, E0−2, … then E0+1, … until one reaches the tolerance; from there upwards
# and then downwards while each step improves on the best (a local search: it assumes bits to
# tolerance is unimodal in e, which held on every cell of the full grids we checked by hand).
# Appends one TSV row per run: cell, seed, multiplier, status, stop reason, rounds, exact bits
# per worker, floats per worker (values sent / n), run directory.

sweep_init() {
    cd "$1/../.."
    bin="$(realpath "${2:?BIN}")"; out="${3:?OUT_DIR}"
    mkdir -p "$out"; out="$(realpath "$out")"
    tsv="$out/runs.tsv"; : >"$tsv"
}

_run_cell_one() { # sets _ok=1 iff the run reached the tolerance with fewer bits than $_best
    local e="$1" m dir rec status reason rounds bits floats
    m=$((1 << e))
    dir="$_out/$(echo "$_cell" | tr -c 'A-Za-z0-9._=-' '_')_s${_seed}_m${m}"
    local budget=()
    [ -n "$_best" ] && budget=(--set "stop.bit_budget_per_worker=$_best")
    nice -n 10 "$_bin" run "$_cfg" "${_sets[@]}" --set "seed=$_seed" \
        --set "method.stepsize.multiplier=$m" "${budget[@]}" \
        --out "$dir" --quiet >/dev/null 2>"$dir.stderr" || true
    rec="$(jq -r '[.status, (.stop_reason // "none" | tostring), .last.round,
        .last.bits_up_per_worker, .last.bits_up_values32_per_worker / 32] | @tsv' \
        "$dir/summary.json" 2>/dev/null || printf 'failed\tnone\t0\t0\t0')"
    IFS=$'\t' read -r status reason rounds bits floats <<<"$rec"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$_cell" "$_seed" "$m" "$status" \
        "$reason" "$rounds" "$bits" "$floats" "$dir" >>"$_tsv"
    _ok=0
    if [ "$status" = finished ] && [ "$reason" = target_reached ] &&
        { [ -z "$_best" ] || awk -v a="$bits" -v b="$_best" 'BEGIN { exit !(a < b) }'; }; then
        _best="$bits"
        _ok=1
    fi
}

best_cell() {
    _bin="$1" _cfg="$2" _out="$3" _tsv="$4" _cell="$5" _seed="$6"
    local e0="$7" e found=""
    shift 7
    _sets=("$@")
    _best=""
    mkdir -p "$_out"
    for e in $(seq "$e0" -1 0) $(seq $((e0 + 1)) 11); do
        _run_cell_one "$e"
        if [ "$_ok" = 1 ]; then found="$e"; break; fi
    done
    [ -z "$found" ] && return 0
    e=$((found + 1))
    while [ "$e" -le 11 ]; do
        _run_cell_one "$e"; [ "$_ok" = 1 ] || break; e=$((e + 1))
    done
    e=$((found - 1))
    while [ "$e" -ge 0 ]; do
        _run_cell_one "$e"; [ "$_ok" = 1 ] || break; e=$((e - 1))
    done
}
