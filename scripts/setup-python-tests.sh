#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment the interop tests run real clients in:
# Telethon 1.45.0 with cryptg 0.6.0, and the Pyrogram fork kurigram 2.2.26 (layer 229, like
# the pinned schema) with TgCrypto 1.2.5, and opentele-ng 1.5.0 (a maintained fork of opentele
# that writes Telegram Desktop `tdata` folders from Telethon sessions, offline), from PyPI.
# opentele-ng is installed without its dependencies: besides Telethon it wants
# tgcrypto-pyrofork, a fork of TgCrypto that installs the same `tgcrypto` module file, so
# the two packages would overwrite (and on uninstall delete) each other's; TgCrypto 1.2.5
# gives opentele-ng the same functions. Idempotent: a venv that already has the
# pinned versions is left as it is; one missing some gets them added. Safe to run
# concurrently (the test runner starts several interop tests at once): one run builds the
# venv under a lock while the others wait, and nobody uses a venv whose packages are still
# being installed.
#
# Usage: scripts/setup-python-tests.sh [VENV_DIR]   (default: target/py-venv)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$root/target/py-venv}"
python="${PYTHON:-python3}"
requirements=(telethon==1.45.0 cryptg==0.6.0 kurigram==2.2.26 tgcrypto==1.2.5)
no_deps_requirements=(opentele-ng==1.5.0)

if ! command -v "$python" >/dev/null 2>&1; then
    echo "setup-python-tests: $python not found; install Python 3 (with venv and pip)" >&2
    exit 1
fi

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
if ! flock --wait 900 9; then
    echo "setup-python-tests: timed out waiting for another setup of $venv" >&2
    exit 1
fi

is_ready() {
    [ -x "$venv/bin/python" ] && "$venv/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m
assert m.version("telethon") == "1.45.0"
assert m.version("cryptg") == "0.6.0"
assert m.version("kurigram") == "2.2.26"
assert m.version("tgcrypto") == "1.2.5"
assert m.version("opentele-ng") == "1.5.0"
PY
}

if is_ready; then
    echo "setup-python-tests: $venv is ready"
    exit 0
fi

echo "setup-python-tests: creating $venv"
if ! "$python" -m venv "$venv"; then
    echo "setup-python-tests: '$python -m venv' failed; install the venv module (e.g. apt-get install python3-venv)" >&2
    exit 1
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "${no_deps_requirements[@]}"
if ! is_ready; then
    echo "setup-python-tests: $venv still lacks ${requirements[*]} ${no_deps_requirements[*]} after pip install" >&2
    exit 1
fi
"$venv/bin/python" -c 'import telethon, cryptg, pyrogram, tgcrypto, opentele
print("setup-python-tests: telethon", telethon.__version__, "kurigram", pyrogram.__version__, "and opentele-ng ready")'
