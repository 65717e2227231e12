#!/usr/bin/env bash
# Installs (or reuses) the Node.js package the GramJS interop tests run: GramJS
# (`telegram`) 2.26.22 from npm, into target/node-gramjs. Installs Node.js and npm from
# Debian's packages first when `node` is missing (needs root). Idempotent and safe to run
# concurrently: one run installs under a lock while the others wait.
#
# Usage: scripts/setup-node-tests.sh [DIR]   (default: target/node-gramjs)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-$root/target/node-gramjs}"
version="2.26.22"

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
if ! flock --wait 900 9; then
    echo "setup-node-tests: timed out waiting for another setup of $dir" >&2
    exit 1
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup-node-tests: node/npm missing and not root; install nodejs and npm" >&2
        exit 1
    fi
    echo "setup-node-tests: installing nodejs and npm from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

installed() {
    node -e 'process.stdout.write(require(process.argv[1] + "/node_modules/telegram/package.json").version)' "$dir" 2>/dev/null
}

if [ "$(installed)" = "$version" ]; then
    echo "setup-node-tests: GramJS $version ready in $dir"
    exit 0
fi

echo "setup-node-tests: installing telegram@$version into $dir"
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"name":"node-gramjs","private":true}' >"$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "telegram@$version"
if [ "$(installed)" != "$version" ]; then
    echo "setup-node-tests: $dir does not have telegram@$version after npm install" >&2
    exit 1
fi
echo "setup-node-tests: GramJS $(installed) ready in $dir (node $(node --version))"
