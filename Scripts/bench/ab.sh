#!/usr/bin/env bash
# Alternates `kiln bench` between variants in one run and prints each variant's medians against
# the first's: timings on the GPU machine compare only inside one command on one machine, and
# alternating spreads its drift over every variant.
#
#   Scripts/bench/ab.sh MODEL ROUNDS NAME=COMMAND... [-- BENCH ARGUMENTS]
#
# COMMAND runs kiln: a binary, with environment settings before it. For example
#   Scripts/bench/ab.sh /tmp/kiln-llama-3.2-1b 2 base=/tmp/base/bin/kiln \
#     "nopdl=env KILN_NO_PDL=1 /tmp/kiln/bin/kiln" -- --batch 1,8 --persistent-decode off
# The bench arguments default to --backend cuda --batch 1,8 --isl 128 --osl 128; those given
# replace the defaults they name. Each run's JSON lines stay in $AB_OUT (default: a new
# temporary folder).
set -euo pipefail
model=${1:?the model folder}
rounds=${2:?how many rounds}
shift 2
names=() commands=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case $1 in
    *=*) names+=("${1%%=*}"); commands+=("${1#*=}") ;;
    *) echo "ab.sh: '$1' is not NAME=COMMAND" >&2; exit 2 ;;
  esac
  shift
done
[ "${1:-}" = "--" ] && shift
[ ${#names[@]} -ge 1 ] || { echo "ab.sh: give at least one NAME=COMMAND" >&2; exit 2; }
declare -A given=()
for a in "$@"; do [[ $a == --* ]] && given[$a]=1; done
defaults=()
for pair in "--backend cuda" "--batch 1,8" "--isl 128" "--osl 128"; do
  [ -n "${given[${pair%% *}]:-}" ] || defaults+=($pair)
done
out=${AB_OUT:-$(mktemp -d)}
mkdir -p "$out"
failed=0
for ((r = 1; r <= rounds; r++)); do
  for i in "${!names[@]}"; do
    file="$out/${names[$i]}-$r.jsonl"
    if bash -c "${commands[$i]} bench --model \"\$0\" --json \"\$@\"" "$model" "${defaults[@]}" "$@" > "$file" 2> "$out/${names[$i]}-$r.log"; then
      echo "round $r ${names[$i]}: done"
    else
      echo "round $r ${names[$i]}: failed (exit $?), see $out/${names[$i]}-$r.log" >&2
      failed=1
    fi
  done
done
python3 - "$out" "$rounds" "${names[@]}" <<'PY'
import json, statistics, sys
out, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
runs = {}
for name in names:
    for r in range(1, rounds + 1):
        try:
            lines = [json.loads(l) for l in open(f"{out}/{name}-{r}.jsonl") if l.startswith("{")]
        except OSError:
            continue
        for line in lines:
            runs.setdefault((name, line["batch"]), []).append(line)
batches = sorted({b for _, b in runs})
print("| variant | batch | runs | ITL p50 ms (each) | ITL p50 ms (median) | vs first | output tok/s (median) |")
print("|---|---|---|---|---|---|---|")
for b in batches:
    first = None
    for name in names:
        lines = runs.get((name, b), [])
        if not lines:
            print(f"| {name} | {b} | 0 | — | — | — | — |")
            continue
        itl = statistics.median(l["itl_p50_ms"] for l in lines)
        first = first or itl
        each = " / ".join(f"{l['itl_p50_ms']:.3f}" for l in lines)
        tok = statistics.median(l["output_tok_per_s"] for l in lines)
        print(f"| {name} | {b} | {len(lines)} | {each} | {itl:.3f} | {itl / first:.3f}× | {tok:,.0f} |")
PY
exit $failed
