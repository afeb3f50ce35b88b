#!/usr/bin/env bash
# Installs the real Codex and OpenCode binaries the bridge suites run against, from the npm registry only.
#
#   scripts/install-peers.sh          # into .peers/ at the repository root (ignored by git)
#   PEERS_DIR=/elsewhere scripts/install-peers.sh
#
# It installs the *platform* packages, not the `@openai/codex` / `opencode-ai` wrappers, with
# --ignore-scripts: the wrappers' postinstall scripts download nothing we need, and `opencode-ai`
# would add a second 185 MB (baseline) binary. Running it again when both binaries answer
# `--version` at the pinned versions does nothing. ~220 MiB of tarballs, ~600 MB on disk.
# It prints the two binary paths; the suites find them there (or via CODEX_PATH / OPENCODE_PATH).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${PEERS_DIR:-$ROOT/.peers}
CX_VERSION=${CX_VERSION:-0.171.0}
OC_VERSION=${OC_VERSION:-1.18.33}

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ARCH=x64 TRIPLE=x86_64-unknown-linux-musl ;;
  Linux-aarch64 | Linux-arm64) ARCH=arm64 TRIPLE=aarch64-unknown-linux-musl ;;
  *) echo "install-peers: $(uname -s) $(uname -m) is not supported (Linux x64/arm64 only)" >&2; exit 2 ;;
esac
OC_PKG=opencode-linux-$ARCH
if ldd --version 2>&1 | grep -qi musl; then OC_PKG=$OC_PKG-musl; fi
# x64 CPUs without AVX2 need the baseline build (the opencode-ai wrapper picks it in its postinstall).
if [ "$ARCH" = x64 ] && ! grep -qw avx2 /proc/cpuinfo; then OC_PKG=${OC_PKG/linux-x64/linux-x64-baseline}; fi
CX_BIN=$BASE/node_modules/@openai/codex-linux-$ARCH/vendor/$TRIPLE/bin/codex
OC_BIN=$BASE/node_modules/$OC_PKG/bin/opencode

installed() { # package-folder binary expected-version: the package at that version, its binary executable
  [ -x "$2" ] && grep -qF "\"version\": \"$3\"" "$BASE/node_modules/$1/package.json" 2>/dev/null
}
answers() { # binary expected-version; OpenCode writes to HOME/XDG folders even for --version: keep them here
  [ -x "$1" ] && env HOME="$BASE/home" XDG_CONFIG_HOME="$BASE/home/.config" XDG_DATA_HOME="$BASE/home/.local/share" \
    XDG_CACHE_HOME="$BASE/home/.cache" XDG_STATE_HOME="$BASE/home/.local/state" "$1" --version 2>/dev/null | grep -qF "$2"
}

if installed "@openai/codex-linux-$ARCH" "$CX_BIN" "$CX_VERSION-linux-$ARCH" && installed "$OC_PKG" "$OC_BIN" "$OC_VERSION"; then
  echo "install-peers: already installed"
else
  mkdir -p "$BASE"
  cat >"$BASE/package.json" <<JSON
{ "private": true, "description": "Codex and OpenCode platform binaries for agent-tether's bridge suites (scripts/install-peers.sh)",
  "dependencies": {
    "$OC_PKG": "$OC_VERSION",
    "@openai/codex-linux-$ARCH": "npm:@openai/codex@$CX_VERSION-linux-$ARCH" } }
JSON
  start=$(date +%s)
  (cd "$BASE" && npm install --no-audit --no-fund --ignore-scripts --no-package-lock --loglevel=error)
  echo "install-peers: installed in $(($(date +%s) - start)) s, $(du -sh "$BASE/node_modules" | cut -f1) on disk"
  answers "$CX_BIN" "$CX_VERSION" || { echo "install-peers: $CX_BIN does not answer --version $CX_VERSION" >&2; exit 1; }
  answers "$OC_BIN" "$OC_VERSION" || { echo "install-peers: $OC_BIN does not answer --version $OC_VERSION" >&2; exit 1; }
fi
echo "CODEX_PATH=$CX_BIN"
echo "OPENCODE_PATH=$OC_BIN"
