#!/usr/bin/env bash
# Kiln's CUDA backend against Hugging Face transformers on the same GPU, in one run: a random
# Llama-3.2-1B-shaped model in bf16 (written by hf_baseline.py, so both load the very same
# weights), 128 prompt tokens and 128 new tokens per sequence.
#
#   Scripts/bench/gpu.sh KILN HF_BASELINE_PY [BATCHES]     (default batches: 1,8,64)
#
# Prints HF's figures, Kiln's table, and the ratios the CUDA issue asks for.
set -euo pipefail
kiln=${1:?path to the kiln binary}
baseline=${2:?path to hf_baseline.py}
batches=${3:-1,8,64}
model=${KILN_BENCH_MODEL:-/tmp/kiln-llama-3.2-1b}
out=$(mktemp -d)
python3 "$baseline" --shape llama-3.2-1b --batch "$batches" --isl 128 --osl 128 --save "$model" 2>/dev/null | tee "$out/hf.jsonl"
"$kiln" bench --model "$model" --backend cuda --batch "$batches" --isl 128 --osl 128 --json | tee "$out/kiln.jsonl"
python3 - "$out/hf.jsonl" "$out/kiln.jsonl" <<'PY'
import json, sys
hf = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
kiln = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
roof = next(r for r in hf if "roofline_batch1_tok_s" in r)
eager = {r["batch"]: r["output_tok_s"] for r in hf if r.get("engine", "").endswith("eager")}
print(f"\n{roof['gpu']}: copy bandwidth {roof['copy_bandwidth_gbps']} GB/s, batch-1 roofline {roof['roofline_batch1_tok_s']} tok/s")
print("| batch | Kiln output tok/s | HF eager tok/s | Kiln / HF | TTFT ms | ITL p50 ms | ITL p99 ms |")
print("|---|---|---|---|---|---|---|")
for k in kiln:
    b = k["batch"]
    ratio = k["output_tok_per_s"] / eager[b] if b in eager else float("nan")
    print(f"| {b} | {k['output_tok_per_s']:.0f} | {eager.get(b, float('nan')):.1f} | {ratio:.1f}× | {k['ttft_ms']:.2f} | {k['itl_p50_ms']:.3f} | {k['itl_p99_ms']:.3f} |")
one = next((k for k in kiln if k["batch"] == 1), None)
if one:
    decode = 1000 / one["itl_p50_ms"]
    print(f"batch-1 decode: {decode:.0f} tok/s = {100 * decode / roof['roofline_batch1_tok_s']:.0f}% of the roofline")
PY
