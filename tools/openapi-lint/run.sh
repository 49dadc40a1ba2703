#!/usr/bin/env bash
# Dump the OpenAPI document the server serves and lint it: Redocly `recommended` must report
# 0 errors and Spectral `oas` 0 warnings. Usage: tools/openapi-lint/run.sh [python]
# (the Python with provider-products installed; default: python on PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${1:-python}"
cd "$here"
if [ ! -x node_modules/.bin/redocly ] || [ ! -x node_modules/.bin/spectral ]; then
    npm ci --no-audit --no-fund --ignore-scripts
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$python" ../dump_openapi.py "$out/openapi.json"
echo "== redocly lint (recommended)"
node_modules/.bin/redocly lint --config .redocly.yaml "$out/openapi.json"
echo "== spectral lint (oas)"
node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity warn "$out/openapi.json"
