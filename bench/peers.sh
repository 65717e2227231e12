#!/usr/bin/env bash
# bench/peers.sh — tgdl against Telethon, same server, same network profile, same file.
#
# 1. Builds tgdl-bench and localdc in release (`cargo build --release -p chaos -p localdc`) and
#    makes the Telethon venv with scripts/setup-python-tests.sh (Telethon and cryptg
#    pinned there; PyPI access needed once).
# 2. Runs `tgdl-bench --files 1 --size SIZE --network PROFILE --json`: it starts its own
#    localdc (a separate process) with a one-file fixture, downloads the file with its
#    engine, verifies it, and reports its throughput.
# 3. Writes the same fixture (`tgdl-bench ... --write-fixture`), starts localdc on it with
#    the same profile and a minted Telethon session (`localdc --mint-session`), and times
#    Telethon's `download_media` of the same message (bench/telethon_download.py), checked
#    against the SHA-256 tgdl's report gives for the file.
# 4. Prints both throughputs and the ratio tgdl / Telethon.
#
# Usage: bench/peers.sh [--size SIZE] [--profile lan|wan|mobile] [--no-build]
#        (defaults: --size 1GiB --profile wan)
# Environment: PYTHON (for the venv), CARGO_TARGET_DIR (where the binaries are),
#              TGDL_PY_VENV (default: target/py-venv), TMPDIR (scratch space: the file is
#              written twice, then deleted).
set -euo pipefail

size=1GiB
profile=wan
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --size) size="$2"; shift 2 ;;
        --profile) profile="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "peers.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="${TGDL_PY_VENV:-$target/py-venv}"
bench="$target/release/tgdl-bench"
localdc="$target/release/localdc"
phone=15550001
chat=benchfiles
msg_id=1

if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -p chaos -p localdc)
fi
bash "$root/scripts/setup-python-tests.sh" "$venv" >&2
python="$venv/bin/python"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/tgdl-peers.XXXXXX")"
localdc_pid=""
cleanup() {
    if [ -n "$localdc_pid" ]; then
        kill "$localdc_pid" 2>/dev/null || true
        wait "$localdc_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

echo "peers: tgdl-bench, 1 file of $size, profile $profile" >&2
"$bench" --files 1 --size "$size" --network "$profile" --json --dir "$scratch" \
    > "$scratch/tgdl.json"

echo "peers: Telethon download_media, same file, same profile" >&2
"$bench" --files 1 --size "$size" --write-fixture "$scratch/fixture.json"
RUST_LOG=warn "$localdc" --port-base 0 --fixture "$scratch/fixture.json" \
    --ready-file "$scratch/ready.json" --profile "$profile" --mint-session "$phone" \
    > "$scratch/localdc.out" 2> "$scratch/localdc.log" &
localdc_pid=$!
for _ in $(seq 1 600); do
    if grep -q "^session $phone: telethon " "$scratch/localdc.out" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$localdc_pid" 2>/dev/null; then
        echo "peers: localdc exited:" >&2
        cat "$scratch/localdc.log" >&2
        exit 1
    fi
    sleep 0.05
done
session="$(sed -n "s/^session $phone: telethon //p" "$scratch/localdc.out")"
if [ -z "$session" ]; then
    echo "peers: localdc printed no session" >&2
    exit 1
fi
expected="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["expected_sha256"])' "$scratch/tgdl.json")"
"$python" "$root/bench/telethon_download.py" "$scratch/ready.json" "$session" "$chat" \
    "$msg_id" "$scratch/telethon.bin" "$expected" > "$scratch/telethon.json"

"$python" - "$scratch/tgdl.json" "$scratch/telethon.json" "$size" "$profile" <<'PY'
import json, sys
tgdl = json.load(open(sys.argv[1]))
telethon = json.load(open(sys.argv[2]))
size, profile = sys.argv[3], sys.argv[4]
t, p = tgdl["throughput_mib_s"], telethon["throughput_mib_s"]
print(f"peers: 1 file of {size}, profile {profile}")
print(f"  tgdl:     {t:8.1f} MiB/s  ({tgdl['seconds']:.1f} s, verified: {tgdl['all_verified']}, "
      f"CPU {tgdl['cpu_seconds_per_gib']:.2f} s/GiB, peak RSS {tgdl['peak_rss_mib']:.1f} MiB)")
print(f"  telethon: {p:8.1f} MiB/s  ({telethon['seconds']:.1f} s, verified: {telethon['verified']}, "
      f"cryptg: {telethon['cryptg']})")
print(f"  tgdl / telethon: {t / p:.2f}x")
print(json.dumps({"size": size, "profile": profile, "tgdl_mib_s": t, "telethon_mib_s": p,
                  "ratio": t / p}))
PY
