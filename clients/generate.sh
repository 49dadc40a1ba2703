#!/usr/bin/env bash
# Regenerate what is made from the served OpenAPI document: the TypeScript client's types
# (typescript/src/generated/schema.ts) and the Postman and Bruno collections (collections/).
#   clients/generate.sh [python]           write them in place
#   clients/generate.sh --check [python]   regenerate into a temporary folder and fail on any
#                                          difference from the checked-in files (CI)
# `python` is the Python with provider-products installed (default: python on PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
check=false
if [ "${1:-}" = "--check" ]; then check=true; shift; fi
python="${1:-python}"

for dir in typescript collections; do
  if [ ! -d "$here/$dir/node_modules" ] || [ "$here/$dir/package-lock.json" -nt "$here/$dir/node_modules" ]; then
    (cd "$here/$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" "$here/../tools/dump_openapi.py" "$work/openapi.json"

if $check; then out="$work/out"; else out="$here"; fi
mkdir -p "$out/typescript/src/generated" "$out/collections"
"$here/typescript/node_modules/.bin/openapi-typescript" "$work/openapi.json" \
  --output "$out/typescript/src/generated/schema.ts" --silent
node "$here/collections/generate.mjs" "$work/openapi.json" "$out/collections" >/dev/null

if $check; then
  status=0
  diff -u "$here/typescript/src/generated/schema.ts" "$out/typescript/src/generated/schema.ts" || status=1
  diff -ru "$here/collections/postman" "$out/collections/postman" || status=1
  diff -ru "$here/collections/bruno" "$out/collections/bruno" || status=1
  if [ "$status" -ne 0 ]; then
    echo "The generated clients differ from the served OpenAPI document: run clients/generate.sh and commit." >&2
    exit 1
  fi
  echo "generated TypeScript types and collections match the served OpenAPI document"
fi
