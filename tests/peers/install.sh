#!/usr/bin/env bash
# Install the pinned third-party MCP peers the integration tests drive:
#   npm:  tests/peers/package.json  -> tests/peers/node_modules
#   PyPI: tests/peers/requirements.txt -> target/peers-venv
# Idempotent; a missing tool is an error, never a silent skip.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

for tool in node npm npx python3; do
  command -v "$tool" >/dev/null || { echo "install.sh: '$tool' is required" >&2; exit 1; }
done

(cd "$here" && npm install --no-audit --no-fund --loglevel=error)

venv="$root/target/peers-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
echo "test peers installed: $(cd "$here" && npm ls --depth=0 --parseable | wc -l) npm packages, venv at $venv"
