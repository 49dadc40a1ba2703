#!/usr/bin/env bash
# Check the clients against a real server (CI runs this after clients/generate.sh --check):
# type-check and build the TypeScript client, run its tests with Node's test runner (each test
# file starts its own `provider-products serve`), then start a server on a fresh SQLite sandbox
# and run the Postman collection with newman, twice over (a run leaves the sandbox as it found it),
# then the README's TypeScript example from the packed tarball.
#   clients/test.sh    (provider-products on PATH, or PROVIDER_PRODUCTS_CLI=/path/to/provider-products)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cli="${PROVIDER_PRODUCTS_CLI:-provider-products}"
export PROVIDER_PRODUCTS_CLI="$cli"

for dir in typescript collections; do
  if [ ! -d "$here/$dir/node_modules" ] || [ "$here/$dir/package-lock.json" -nt "$here/$dir/node_modules" ]; then
    (cd "$here/$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  fi
done

echo "== TypeScript client: tsc, node --test"
cd "$here/typescript"
rm -rf dist
node_modules/.bin/tsc -p tsconfig.json
node --test dist/test/*.test.js

echo "== Postman collection: newman against a real server"
work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server"
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
base="http://127.0.0.1:$port"
# Only this database: no PROVIDER_PRODUCTS_* setting of the caller's leaks into the server.
# shellcheck disable=SC2207  # the variable names split on purpose
sandbox_env=(env $(env | grep -o '^PROVIDER_PRODUCTS_[A-Z_]*' | sed 's/^/-u /')
  PROVIDER_PRODUCTS_DATABASE_URL="sqlite:///$work/pp.db" PROVIDER_PRODUCTS_LOG_REQUESTS=false)
run() { "${sandbox_env[@]}" "$@"; }
# A simple command in the background: $! is the server itself (env execs it), which cleanup stops;
# the PID of a subshell around it would leave the server running after the script.
cd "$work"
"${sandbox_env[@]}" "$cli" serve --host 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 600); do
  if grep -q "Uvicorn running on $base" "$work/server.log" 2>/dev/null && curl -fs "$base/healthz" >/dev/null; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then cat "$work/server.log"; exit 1; fi
  sleep 0.1
done
curl -fs "$base/healthz" >/dev/null || { cat "$work/server.log"; exit 1; }
credentials="$(cd "$work" && run "$cli" clients create --provider sandbox-provider --rate-limit 600/minute \
  --scopes "arc:read arc:write ehr:read ehr:write" --json)"
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$credentials" "$1"; }

cd "$here/collections"
newman() {
  node_modules/.bin/newman run postman/provider-products.postman_collection.json \
    --environment postman/sandbox.postman_environment.json \
    --env-var "baseUrl=$base" --env-var "clientId=$(field client_id)" --env-var "clientSecret=$(field client_secret)" \
    --color off --no-insecure-file-read "$@"
}
newman --iteration-count 2
# One folder alone: no "Issue Token" request runs first, so the collection's script fetches the token.
newman --folder Catalogues

# After the collection, which removes the MED-042 it registers.
echo "== README: the TypeScript client installed from its packed tarball, the first call"
app="$work/app"
mkdir -p "$app"
(cd "$here/typescript" && npm pack --pack-destination "$work" --silent >/dev/null)
(cd "$app" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "$work"/provider-products-client-*.tgz)
node -e '
  const readme = require("fs").readFileSync(process.argv[1], "utf-8");
  const section = readme.slice(readme.indexOf("### TypeScript client"));
  const block = /```js\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error("no js block in the README section TypeScript client");
  process.stdout.write(block[1]);
' "$here/../README.md" >"$app/first-call.mjs"
first_call() {
  (cd "$app" && PROVIDER_PRODUCTS_BASE_URL="$base" PROVIDER_PRODUCTS_CLIENT_ID="$(field client_id)" \
    PROVIDER_PRODUCTS_CLIENT_SECRET="$(field client_secret)" node first-call.mjs)
}
expect() { grep -q "$1" <<<"$2" || { echo "README example: expected '$1' in:"; echo "$2"; exit 1; }; }
out="$(first_call)"
expect "^MED-SBX-0001 Acetaminofén 500 mg Tableta" "$out"
expect "^registered MED-042 20" "$out"
expect "remaining" "$out"
expect "^already registered 071-102" "$(first_call)"
