#!/usr/bin/env bash
# Checks docker-compose.yml without Docker (CI has no engine and no compose plugin): the Compose
# Specification schema (vendored in scripts/compose-spec/) and the project's rules — health
# checks, published ports, pinned official images, the root Dockerfile, `${VAR}` defaults and
# required secrets, and the environment variables the tandemu roles read (from src/cli/*.rs).
# The rules are listed at the top of scripts/check_compose.py.
#
# Usage: scripts/check-compose.sh [COMPOSE_FILE] [--project-dir DIR]
#        scripts/check-compose.sh --cli-table     # the CLI's flags and variables, as Markdown
# Env:   TANDEMU_CACHE           where the Python dependencies go (default ~/.cache/tandemu)
#        CHECK_COMPOSE_REGISTRY  Docker Hub's address (default https://hub.docker.com), or `off`
#
# PyYAML and jsonschema are installed once into $TANDEMU_CACHE/pydeps (outside the clone) and
# reused; the image tags are looked up on Docker Hub when it answers, and otherwise checked
# against scripts/compose-images.txt only (the output says which). Prints one OK line, or one
# line per problem and exits 1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${TANDEMU_CACHE:-$HOME/.cache/tandemu}
DEPS=$CACHE/pydeps
PYTHON=${TANDEMU_PYTHON:-python3}
SPECS=(jsonschema==4.26.0 PyYAML==6.0.3)

command -v "$PYTHON" >/dev/null || { echo "check-compose: $PYTHON not found; install Python 3" >&2; exit 2; }

# Wheels differ per Python version: the stamp records both, so a change reinstalls.
want="${SPECS[*]} python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ ! -f $DEPS/.installed || $(<"$DEPS/.installed") != "$want" ]]; then
    mkdir -p "$CACHE"
    tmp=$(mktemp -d "$CACHE/pydeps.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-input --target "$tmp" "${SPECS[@]}" >"$tmp.log" 2>&1; then
        echo "check-compose: could not install ${SPECS[*]} into $DEPS:" >&2
        tail -n 20 "$tmp.log" >&2
        rm -f "$tmp.log"
        exit 2
    fi
    rm -f "$tmp.log"
    echo "$want" >"$tmp/.installed"
    rm -rf "$DEPS"
    mv "$tmp" "$DEPS"
    trap - EXIT
fi

PYTHONPATH="$DEPS${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -s "$ROOT/scripts/check_compose.py" --root "$ROOT" "$@"
