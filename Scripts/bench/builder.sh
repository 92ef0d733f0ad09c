#!/usr/bin/env bash
# The builder's effect on the CPU backend, fused against unfused, in one run: decode and
# prefill speed, planned activation bytes (for a decode step and for the largest step) and
# build time, on a random-weight SmolLM2-135M-shaped model.
#
#   Scripts/bench/builder.sh [KILN_BINARY] [DTYPE]     (defaults: .build/release/kiln, bf16)
set -euo pipefail
kiln=${1:-.build/release/kiln}
dtype=${2:-bf16}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$kiln" random-model --preset smollm2-135m --dtype "$dtype" --out "$work/model" >/dev/null
all_rules=$("$kiln" build --help | sed -n 's/.*comma separated: \([a-z, -]*\) (default.*/\1/p' | tr -d ' ')
python3 - "$kiln" "$work" "$all_rules" <<'PY'
import json, os, re, statistics, subprocess, sys, time
kiln, work, all_rules = sys.argv[1:]
variants = {"fused (CPU default rules)": [], "unfused (--no-fuse every rule)": ["--no-fuse", all_rules]}
prompt = ",".join(str((i * 7919) % 49000 + 10) for i in range(128))

def build(name, flags, limits):
    out = f"{work}/{abs(hash((name, tuple(limits))))}"
    start = time.perf_counter()
    # one kernel cache for the run: the first build measures, both run the same kernels
    env = dict(os.environ, KILN_CACHE_DIR=f"{work}/kernel-cache")
    run = subprocess.run([kiln, "build", "--model", f"{work}/model", "--output", out, *flags, *limits],
                         capture_output=True, text=True, check=True, env=env)
    seconds = time.perf_counter() - start
    planned = re.search(r"unplanned → ([\d.]+) MB planned", run.stdout).group(1)
    unplanned = re.search(r"([\d.]+) MB unplanned", run.stdout).group(1)
    return out, seconds, float(unplanned), float(planned), run.stdout

rows = {}
for name, flags in variants.items():
    engine, seconds, _, planned_max, report = build(name, flags, ["--max-num-tokens", "2048", "--max-batch-size", "64"])
    _, _, unplanned_decode, planned_decode, _ = build(name, flags + ["--no-autotune"], ["--max-num-tokens", "1", "--max-batch-size", "1"])
    ops = re.search(r"ops: (\d+) → (\d+)", report).groups()
    tuning = int(re.search(r"kernel-selection: .*?, (\d+) µs", report).group(1)) / 1e6
    rows[name] = dict(engine=engine, build_s=seconds, tuning_s=tuning, planned_max_mb=planned_max, planned_decode_mb=planned_decode,
                      unplanned_decode_mb=unplanned_decode, ops=f"{ops[0]} → {ops[1]}", decode=[], prefill=[])

for _ in range(5):  # alternate, so drift hits both alike
    for name, row in rows.items():
        run = subprocess.run([kiln, "generate", "--engine", row["engine"], "--prompt-ids", prompt, "--max-tokens", "128",
                              "--ignore-eos", "--json"], capture_output=True, text=True, check=True)
        result = json.loads(run.stdout)
        row["decode"].append(result["decode_tok_s"])
        row["prefill"].append(128 / (result["prefill_ms"] / 1000))

print(f"| build | ops | decode tok/s | prefill tok/s (128) | activations, decode step | activations, 2048-token step | build time (of it, kernel measurements; the second build reuses the first's) |")
print(f"|---|---|---|---|---|---|---|")
for name, row in rows.items():
    print(f"| {name} | {row['ops']} | {statistics.median(row['decode']):.1f} | {statistics.median(row['prefill']):.0f} | "
          f"{row['planned_decode_mb']} MB | {row['planned_max_mb']} MB | {row['build_s']:.2f} s ({row['tuning_s']:.2f} s) |")
fused, unfused = rows.values()
print(f"\nfused / unfused: decode {statistics.median(fused['decode']) / statistics.median(unfused['decode']):.2f}×, "
      f"prefill {statistics.median(fused['prefill']) / statistics.median(unfused['prefill']):.2f}×, "
      f"decode-step activations {fused['planned_decode_mb'] / unfused['planned_decode_mb']:.2f}×, "
      f"largest-step activations {fused['planned_max_mb'] / unfused['planned_max_mb']:.2f}×")
print(f"(one buffer per value at a decode step, unfused: {unfused['unplanned_decode_mb']} MB)")
PY
