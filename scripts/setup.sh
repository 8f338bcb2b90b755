#!/usr/bin/env bash
# Installs what a fresh machine lacks for the full test suite: Verilator
# (Debian package) for the RTL co-simulation. Idempotent.
set -euo pipefail
if ! command -v verilator >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq verilator >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq verilator >/dev/null
  fi
fi
verilator --version
