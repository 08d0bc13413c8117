#!/usr/bin/env bash
# Installs every Debian package Latchkey needs to build, test and benchmark.
# Idempotent: only missing packages are installed. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ninja-build clang libclang-rt-14-dev
  libboost-dev libboost-system-dev
  libssl-dev libsodium-dev libsqlite3-dev sqlite3 libpq-dev
  libcurl4-openssl-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev libphonenumber-dev libprotobuf-dev
  libicu-dev libsignal-protocol-c-dev libqrencode-dev libcbor-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-cryptography curl ca-certificates
)

# Optional group `--browser` (make test asks for it): the staff console's browser tests need Debian's Chromium,
# and Node.js with npm unless a node is already installed.
if [[ " $* " == *" --browser "* ]]; then
  PACKAGES+=(chromium)
  command -v node >/dev/null || PACKAGES+=(nodejs)
  command -v npm >/dev/null || PACKAGES+=(npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
