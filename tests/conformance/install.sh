#!/usr/bin/env bash
# Installs the pinned conformance suite (package-lock.json) into tests/conformance/node_modules.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v npm >/dev/null || { echo "tests/conformance/install.sh: npm is required" >&2; exit 1; }
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
