#!/usr/bin/env bash
# Install what the README's test command needs, reproducibly:
#   cargo-nextest (pinned) when it is missing,
#   npm:  tests/peers/package-lock.json -> tests/peers/node_modules (npm ci: exactly the lockfile)
#   PyPI: tests/peers/requirements.txt, every version fixed by constraints.txt -> target/peers-venv
# Idempotent; a missing tool is an error, never a silent skip.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

# The version the suite is run with; bump deliberately.
nextest_version=0.9.143

for tool in cargo node npm npx python3; do
  command -v "$tool" >/dev/null || { echo "install.sh: '$tool' is required" >&2; exit 1; }
done

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "install.sh: installing cargo-nextest $nextest_version" >&2
  cargo install --locked "cargo-nextest@$nextest_version"
fi

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

venv="$root/target/peers-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  -r "$here/requirements.txt" -c "$here/constraints.txt"
echo "test peers installed: $(cd "$here" && npm ls --depth=0 --parseable | wc -l) npm packages, venv at $venv"
