#!/usr/bin/env bash
# Round time of examples/mpi/ef21_d1e6.toml (EF21, Top-1%, d = 10⁶, n = 16) in process (1 and 2
# threads) and as 2 and 4 MPI ranks. Prints ms per round, measured between the records at
# rounds 50 and 100 (the start-up, data generation and initialisation are excluded).
#
#   bash benches/mpi_rounds.sh            # f64 (the config's precision)
#   PRECISION=f32 bash benches/mpi_rounds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p squeeze-cli --features mpi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
bin=target/release/squeeze
cfg=examples/mpi/ef21_d1e6.toml
out=$(mktemp -d)
# records.jsonl is read below; a run writes only records.csv unless output.formats asks for it.
set_precision=(--set "precision=${PRECISION:-f64}" --set 'output.formats=["csv","jsonl"]')
ms_per_round() {
    python3 - "$1" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1] + "/records.jsonl")]
a, b = r[-2], r[-1]
per = lambda k: (b[k] - a[k]) / (b["round"] - a["round"])
print(f"{1000 * per('wall_time_s'):8.2f} ms/round   wire up {per('wire_bytes_up') / 1e6:6.3f} MB/round"
      f"   wire down {per('wire_bytes_down') / 1e6:6.3f} MB/round   ‖∇f‖² {b['grad_norm_sq']:.6e}")
PY
}
for threads in 1 2; do
    "$bin" run "$cfg" "${set_precision[@]}" --threads "$threads" --out "$out/local$threads" -q
    printf 'in process, %d thread(s): ' "$threads"; ms_per_round "$out/local$threads"
done
for np in 2 4; do
    mpirun -np "$np" "$bin" run "$cfg" "${set_precision[@]}" --out "$out/mpi$np" -q
    printf 'mpirun -np %d:              ' "$np"; ms_per_round "$out/mpi$np"
done
rm -rf "$out"
