#!/usr/bin/env bash
# Golden records of every example config, for refactors that must keep trajectories
# bit-identical ("record before, diff after").
#
#   scripts/golden-records.sh record BIN DIR [ROUNDS]   # run every examples/**/*.toml with BIN
#   scripts/golden-records.sh diff DIR_A DIR_B          # compare, ignoring wall time
#
# Each config runs for at most ROUNDS rounds (default 200) with `--set stop.max_rounds=ROUNDS`.
# Compared, ignoring wall time: the records (records.jsonl when both sides have it, as binaries
# before `output.formats` always wrote it; else records.csv, field by field as text) and the
# summary.json keys both sides have (a newer squeeze adds metadata keys). Configs whose
# LIBSVM data is absent are reported and skipped.
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
import csv, json, os, sys
a, b = sys.argv[1], sys.argv[2]
def jsonl(d):
    p = os.path.join(d, "records.jsonl")
    if not os.path.exists(p):
        return None
    out = []
    for line in open(p):
        r = json.loads(line)
        r.pop("wall_time_s", None)
        out.append(r)
    return out
def csv_rows(d):
    # The text of every field but wall time: the CSV floats are the shortest round-trip
    # representation, so equal text is equal values.
    p = os.path.join(d, "records.csv")
    if not os.path.exists(p):
        return None
    out = []
    with open(p, newline="") as f:
        for r in csv.DictReader(f):
            r.pop("wall_time_s", None)
            out.append(r)
    return out
def recs(da, db):
    # JSON lines when both runs wrote them (older binaries always did), else the CSV records.
    ra, rb = jsonl(da), jsonl(db)
    if ra is not None and rb is not None:
        return ra, rb, "jsonl"
    return csv_rows(da), csv_rows(db), "csv"
def summary(d):
    p = os.path.join(d, "summary.json")
    if not os.path.exists(p):
        return None
    s = json.load(open(p))
    s.pop("wall_time_s", None)
    if isinstance(s.get("last"), dict):
        s["last"].pop("wall_time_s", None)
    return s
def summary_diff(sa, sb):
    # Keys only one side has are metadata a newer squeeze added (method, seed, stepsize, ...).
    if sa is None or sb is None:
        return [] if sa is sb else ["summary.json"]
    return sorted(k for k in set(sa) & set(sb) if sa[k] != sb[k])
names = sorted(n for n in os.listdir(a) if os.path.isdir(os.path.join(a, n)))
bad = 0
for n in names:
    ra, rb, kind = recs(os.path.join(a, n), os.path.join(b, n))
    if ra is None and rb is None:
        print(f"skip {n} (no records on either side)")
        continue
    sdiff = summary_diff(summary(os.path.join(a, n)), summary(os.path.join(b, n)))
    if ra != rb:
        bad += 1
        first = next((i for i, (x, y) in enumerate(zip(ra or [], rb or [])) if x != y), None)
        print(f"DIFF {n}: {len(ra or [])} vs {len(rb or [])} {kind} records, first difference at record {first}")
        if first is not None:
            x, y = ra[first], rb[first]
            print("   ", {k: (x.get(k), y.get(k)) for k in set(x) | set(y) if x.get(k) != y.get(k)})
    elif sdiff:
        bad += 1
        print(f"DIFF {n}: summary.json differs in {', '.join(sdiff)}")
    else:
        print(f"same {n}: {len(ra)} {kind} records")
print(f"{len(names) - bad} same, {bad} differ")
sys.exit(1 if bad else 0)
PY
    ;;
*) echo "usage: $0 record BIN DIR [ROUNDS] | diff DIR_A DIR_B" >&2; exit 2 ;;
esac
