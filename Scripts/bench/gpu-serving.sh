#!/usr/bin/env bash
# Kiln's executor against Hugging Face transformers on the same GPU, in one run: a random
# Llama-3.2-1B-shaped model in bf16 (written by hf_baseline.py, so both load the same
# weights); Kiln serves REQUESTS requests of 128 prompt and 128 new tokens with all of them
# in flight (the step batch up to MAX_BATCH), HF runs static batches and its best batch is the
# peer.
#
#   Scripts/bench/gpu-serving.sh KILN HF_BASELINE_PY [REQUESTS] [MAX_BATCH] [HF_BATCHES]
#
# Prints HF's figures, Kiln's, and the ratio the executor issue asks for.
set -euo pipefail
kiln=${1:?path to the kiln binary}
baseline=${2:?path to hf_baseline.py}
requests=${3:-1000}
max_batch=${4:-256}
hf_batches=${5:-64,128,256}
model=${KILN_BENCH_MODEL:-/tmp/kiln-llama-3.2-1b}
out=$(mktemp -d)
python3 "$baseline" --shape llama-3.2-1b --batch "$hf_batches" --isl 128 --osl 128 --save "$model" 2>/dev/null | tee "$out/hf.jsonl"
"$kiln" bench --model "$model" --backend cuda --dataset synthetic --requests "$requests" --isl 128 --osl 128 \
  --max-batch-size "$max_batch" --max-num-tokens "${KILN_MAX_NUM_TOKENS:-8192}" --json | tee "$out/kiln.jsonl"
python3 - "$out/hf.jsonl" "$out/kiln.jsonl" <<'PY'
import json, sys
hf = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
kiln = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")][-1]
eager = [r for r in hf if r.get("engine", "").endswith("eager")]
best = max(eager, key=lambda r: r["output_tok_s"])
gpu = next((r["gpu"] for r in hf if "gpu" in r), "GPU")
print(f"\n{gpu}: HF eager best batch {best['batch']}: {best['output_tok_s']:.1f} tok/s")
print(json.dumps(kiln))
ratio = kiln["output_tok_per_s"] / best["output_tok_s"]
print(f"Kiln executor: {kiln['output_tok_per_s']:.0f} output tok/s = {ratio:.1f}× HF eager at its best batch")
PY
