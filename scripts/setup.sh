#!/usr/bin/env bash
# Create .venv/ at the repository root and install unav into it (idempotent).
# With --system (and root), first install the Debian packages the tests and workflow use.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--system" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  pkgs=(slurm-wlm munge chromium chromium-driver)
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.unav-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing unav and its dependencies into .venv (torch takes a minute)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[extract,workflow,test]"
  touch "$stamp"
fi
