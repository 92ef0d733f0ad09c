#!/usr/bin/env bash
# Encode throughput of Kiln's tokenizer against Hugging Face `tokenizers` (single thread),
# on the same few MB of mixed text, in the same run.
#
#   Scripts/bench/tokenizer.sh TOKENIZER_DIR [KILN_BINARY]
#
# TOKENIZER_DIR holds tokenizer.json (e.g. an unpacked ../shared/fixtures/tokenizers/*.tar.xz).
set -euo pipefail
dir=$1
kiln=${2:-.build/release/kiln}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -c "import tokenizers" 2>/dev/null || pip install --quiet tokenizers

# ~3 MB of mixed text: prose and code from the Python standard library plus the fixtures'
# multilingual strings, one JSON array of lines
python3 - "$work/texts.json" <<'PY'
import glob, json, os, sys, sysconfig
lines = []
for f in sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py"))):
    lines += open(f, encoding="utf-8", errors="ignore").read().split("\n\n")
    if sum(map(len, lines)) > 2_500_000:
        break
ref = json.load(open("Tests/Fixtures/llama-gqa/tokenizer_reference.json"))
lines += [case["text"] for case in ref["encode"]] * 2000
json.dump(lines, open(sys.argv[1], "w"), ensure_ascii=False)
print(f"{len(lines)} texts, {sum(len(l.encode()) for l in lines) / 1e6:.2f} MB", file=sys.stderr)
PY

echo "Kiln:" >&2
"$kiln" tokenize --model "$dir" --texts-file "$work/texts.json" --json --timing > "$work/kiln.jsonl"
echo "Hugging Face tokenizers (1 thread):" >&2
RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false python3 - "$dir/tokenizer.json" "$work/texts.json" "$work/hf.jsonl" <<'PY'
import json, sys, time
from tokenizers import Tokenizer
t0 = time.perf_counter(); tok = Tokenizer.from_file(sys.argv[1]); load = time.perf_counter() - t0
texts = json.load(open(sys.argv[2]))
size = sum(len(t.encode()) for t in texts)
t0 = time.perf_counter(); encodings = [tok.encode(t).ids for t in texts]; dt = time.perf_counter() - t0
print(f"load {load * 1e3:.0f} ms; encoded {size / 1e6:.2f} MB in {dt * 1e3:.0f} ms ({size / 1e6 / dt:.2f} MB/s)", file=sys.stderr)
with open(sys.argv[3], "w") as out:
    for ids in encodings: out.write(json.dumps({"ids": ids}, separators=(",", ":")) + "\n")
PY
if python3 - "$work/kiln.jsonl" "$work/hf.jsonl" <<'PY'
import json, sys
a = [json.loads(l)["ids"] for l in open(sys.argv[1])]
b = [json.loads(l)["ids"] for l in open(sys.argv[2])]
bad = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
print(f"ids identical for {len(b) - bad} of {len(b)} texts", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
then echo "same ids" >&2; else echo "ids DIFFER" >&2; exit 1; fi
