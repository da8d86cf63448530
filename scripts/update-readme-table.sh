#!/usr/bin/env bash
# Regenerates README.md's configuration table from the CLI's clap definitions (the test command
# fails when the two differ).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 - <(scripts/check-compose.sh --cli-table) README.md <<'PY'
import sys
table = open(sys.argv[1]).read().strip()
path = sys.argv[2]
readme = open(path).read()
begin, end = "<!-- cli-table:begin -->", "<!-- cli-table:end -->"
i, j = readme.index(begin) + len(begin), readme.index(end)
open(path, "w").write(readme[:i] + "\n" + table + "\n" + readme[j:])
PY
echo "README.md: configuration table regenerated"
