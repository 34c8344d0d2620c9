#!/usr/bin/env bash
# Golden records of every example config, for refactors that must keep trajectories
# bit-identical ("record before, diff after").
#
#   scripts/golden-records.sh record BIN DIR [ROUNDS]   # run every examples/**/*.toml with BIN
#   scripts/golden-records.sh diff DIR_A DIR_B          # compare, ignoring wall time
#
# Each config runs for at most ROUNDS rounds (default 200) with `--set stop.max_rounds=ROUNDS`;
# the records (records.jsonl) and the summary minus wall time are what is compared. Configs
# whose LIBSVM data is absent are reported and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:?record|diff}"
case "$mode" in
record)
    bin="$(realpath "${2:?BIN}")"; out="${3:?DIR}"; rounds="${4:-200}"
    mkdir -p "$out"; out="$(realpath "$out")"
    find examples -name '*.toml' ! -name '*.sweep.toml' | sort | while read -r cfg; do
        key="$(echo "${cfg#examples/}" | tr '/' '_')"
        key="${key%.toml}"
        if "$bin" run "$cfg" --set "stop.max_rounds=$rounds" --out "$out/$key" --quiet \
            >"$out/$key.stdout" 2>"$out/$key.stderr"; then
            echo "ok   $cfg"
        else
            echo "exit $? $cfg: $(head -c 200 "$out/$key.stderr")"
        fi
    done
    ;;
diff)
    a="${2:?DIR_A}"; b="${3:?DIR_B}"
    python3 - "$a" "$b" <<'PY'
import json, os, sys
a, b = sys.argv[1], sys.argv[2]
def recs(d):
    p = os.path.join(d, "records.jsonl")
    if not os.path.exists(p):
        return None
    out = []
    for line in open(p):
        r = json.loads(line)
        r.pop("wall_time_s", None)
        out.append(r)
    return out
names = sorted(n for n in os.listdir(a) if os.path.isdir(os.path.join(a, n)))
bad = 0
for n in names:
    ra, rb = recs(os.path.join(a, n)), recs(os.path.join(b, n))
    if ra is None and rb is None:
        print(f"skip {n} (no records on either side)")
        continue
    if ra != rb:
        bad += 1
        first = next((i for i, (x, y) in enumerate(zip(ra or [], rb or [])) if x != y), None)
        print(f"DIFF {n}: {len(ra or [])} vs {len(rb or [])} records, first difference at record {first}")
        if first is not None:
            x, y = ra[first], rb[first]
            print("   ", {k: (x.get(k), y.get(k)) for k in set(x) | set(y) if x.get(k) != y.get(k)})
    else:
        print(f"same {n}: {len(ra)} records")
print(f"{len(names) - bad} same, {bad} differ")
sys.exit(1 if bad else 0)
PY
    ;;
*) echo "usage: $0 record BIN DIR [ROUNDS] | diff DIR_A DIR_B" >&2; exit 2 ;;
esac
