#!/usr/bin/env bash
# Installs Garage 2.5.0 (the S3-compatible object store the object-storage tests start on
# loopback) once per machine, into ~/.cargo/bin, with `cargo install --locked`.
# A no-op when `garage --version` (on PATH or in ~/.cargo/bin) already says 2.5.0.
# The build (about 15 minutes on 2 cores) uses its own target directory outside the
# repository, removed afterwards, so the project's own build and target/ are untouched.
# Safe to run concurrently: one run installs under a lock while the others wait.
#
# Usage: scripts/setup-garage.sh
set -euo pipefail

version="2.5.0"
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"

installed() {
    local bin
    for bin in "$(command -v garage 2>/dev/null || true)" "$cargo_bin/garage"; do
        if [ -n "$bin" ] && [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "garage.*\b$version\b"; then
            echo "$bin"
            return 0
        fi
    done
    return 1
}

if bin="$(installed)"; then
    echo "setup-garage: garage $version already installed ($bin)"
    exit 0
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup-garage: cargo not found; install Rust first" >&2
    exit 1
fi

mkdir -p "$cargo_bin"
exec 9>"$cargo_bin/.garage-install.lock"
if ! flock --wait 3600 9; then
    echo "setup-garage: timed out waiting for another install" >&2
    exit 1
fi
if bin="$(installed)"; then
    echo "setup-garage: garage $version installed meanwhile ($bin)"
    exit 0
fi

build_dir="$(mktemp -d "${TMPDIR:-/tmp}/garage-build.XXXXXX")"
trap 'rm -rf "$build_dir"' EXIT
echo "setup-garage: building garage $version (takes a while; low priority)"
CARGO_TARGET_DIR="$build_dir" CARGO_INCREMENTAL=0 nice -n 19 \
    cargo install --locked garage --version "$version" --root "${CARGO_HOME:-$HOME/.cargo}"
"$cargo_bin/garage" --version
