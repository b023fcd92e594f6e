#!/usr/bin/env bash
# Installs every Debian package that photo-pipeline's build, tests and runtime
# need, and the face-detection model. Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl ccache
  clang libclang-rt-14-dev
  libvips-dev libvips-tools
  libopencv-dev libopencv-contrib-dev opencv-data
  libturbojpeg0-dev
  librabbitmq-dev
  nlohmann-json3-dev
  libcpp-httplib-dev        # the tests' HTTP client (no production code links it)
  libboost-dev libboost-system-dev libcurl4-openssl-dev libssl-dev libxml2-dev
  ceph-mon ceph-osd radosgw ceph-common iproute2
  chromium
  libsqlite3-dev sqlite3 libpq-dev postgresql
  libspdlog-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  rabbitmq-server
  python3-skimage python3-onnx python3-numpy
  fonts-dejavu-core
  lomiri-wallpapers-16.04   # a real 13 MP camera photo for the benchmarks (Dragonfly_by_Bolly.jpg)
  libjpeg-turbo-progs       # jpegtran: tools/bench-real.sh stores that photo baseline, as cameras do
  docker-compose
)

missing=()
# Node.js (for the npm-published face model and the OpenAPI validator): Debian's
# nodejs+npm where no Node.js is present; an existing Node.js ships its own npm.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  # Debian starts rabbitmq-server/postgresql as system services on install;
  # we run our own private nodes, so keep the packaged ones from starting.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

./scripts/fetch-models.sh
# playwright-core for the browser test (pinned in tests/browser/package-lock.json;
# drives Debian's chromium, downloads no browser).
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: ok"
