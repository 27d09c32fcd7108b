#!/usr/bin/env bash
# Builds the release tarball that infra/terraform's instances install:
#   dist/flightdeck-linux-x86_64.tar.gz = bin/flightdeck-api, bin/flightdeck-worker, stack.json
# Build on Debian 12 (the instances' image), so the FFmpeg libraries match.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --release -p api -p worker
target="${CARGO_TARGET_DIR:-target}/release"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" dist
cp "$target/flightdeck-api" "$target/flightdeck-worker" "$stage/bin/"
cp infra/stack.json "$stage/"
tar -czf dist/flightdeck-linux-x86_64.tar.gz -C "$stage" .
echo "dist/flightdeck-linux-x86_64.tar.gz: upload it where the instances can fetch it (terraform -var release_url=...)"
