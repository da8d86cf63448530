#!/usr/bin/env bash
# The test command: installs what is missing, starts the real services the tests need
# (PostgreSQL, a Tansu Kafka-protocol broker, the ClickHouse engine behind its HTTP front), and
# runs every test of the workspace against them. Safe to run again: services already running are
# reused, and builds reuse ${CARGO_TARGET_DIR:-~/.cache/tandemu/target}.
#
# Usage: scripts/test.sh [extra cargo test arguments, e.g. a test name filter]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export TANDEMU_CACHE=${TANDEMU_CACHE:-$HOME/.cache/tandemu}
# Outside the clone, so a fresh clone (and CI) reuses the build.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$TANDEMU_CACHE/target}

command -v cargo >/dev/null || { echo "scripts/test.sh: cargo not found; install Rust (https://rustup.rs) first" >&2; exit 1; }
# rdkafka builds its bundled librdkafka with a C compiler and make.
for tool in cc make; do
    command -v "$tool" >/dev/null || { echo "scripts/test.sh: '$tool' not found; install build-essential" >&2; exit 1; }
done

start=$SECONDS
echo "== services"
scripts/services.sh up
eval "$(scripts/services.sh env)"

echo "== docker-compose.yml"
# No Docker engine here: the file is checked against the Compose Specification and the project's
# rules (images, ports, health checks, the CLI's own variables) instead of `docker compose config`.
scripts/check-compose.sh
# The README's configuration table is generated from the CLI's clap definitions; it must match them.
python3 - <(scripts/check-compose.sh --cli-table) README.md <<'PY' || { echo "README.md: the configuration table differs from the CLI; regenerate it with scripts/update-readme-table.sh" >&2; exit 1; }
import sys
want = open(sys.argv[1]).read().strip()
readme = open(sys.argv[2]).read()
begin, end = "<!-- cli-table:begin -->", "<!-- cli-table:end -->"
have = readme[readme.index(begin) + len(begin):readme.index(end)].strip() if begin in readme and end in readme else ""
sys.exit(0 if have == want else 1)
PY
echo "README.md: configuration table matches the CLI"

echo "== build"
cargo build --locked --workspace --all-targets

echo "== test"
# --all-targets runs the criterion benches once each in test mode, so they cannot rot.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --workspace --all-targets "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary: "summary: N passed, N failed".
if ((status != 0)); then
    echo "== tests FAILED after $((SECONDS - start)) s"
else
    echo "== all tests passed in $((SECONDS - start)) s"
fi
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
