#!/usr/bin/env bash
# Build the self-hosted Neuroglancer client into viewer/dist/ (served by Django
# under /static/neuroglancer/). Called by `make viewer`. Needs only the npm
# registry: dependencies are pinned in package-lock.json and installed with
# `npm ci` so every build is reproducible.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "viewer/build.sh: '$tool' not found on PATH; install Node.js >= 20.19 (with npm) to build the Neuroglancer viewer." >&2
    exit 1
  fi
done

npm ci --no-audit --no-fund
npm run build

if [[ ! -f dist/index.html ]]; then
  echo "viewer/build.sh: build finished but dist/index.html is missing." >&2
  exit 1
fi
echo "viewer/build.sh: Neuroglancer viewer built in $(pwd)/dist"
