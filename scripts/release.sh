#!/usr/bin/env bash
# Builds the release tarballs:
#   dist/flightdeck-linux-x86_64.tar.gz = bin/flightdeck-api, bin/flightdeck-worker, stack.json
#     (what infra/terraform's instances install)
#   dist/flightdeck-console-linux-x86_64.tar.gz = bin/flightdeck, README.md
#     (the operator's console, built alone: no FFmpeg or sqlx)
# Build on Debian 12 (the instances' image), so the FFmpeg libraries match.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --release -p api -p worker
# Its own build, with only the features it asks for itself.
cargo build --locked --release -p flightdeck
target="${CARGO_TARGET_DIR:-target}/release"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/services/bin" "$stage/console/bin" dist
cp "$target/flightdeck-api" "$target/flightdeck-worker" "$stage/services/bin/"
cp infra/stack.json "$stage/services/"
tar -czf dist/flightdeck-linux-x86_64.tar.gz -C "$stage/services" .
cp "$target/flightdeck" "$stage/console/bin/"
cp console/README.md "$stage/console/"
tar -czf dist/flightdeck-console-linux-x86_64.tar.gz -C "$stage/console" .
echo "dist/flightdeck-linux-x86_64.tar.gz: upload it where the instances can fetch it (terraform -var release_url=...)"
echo "dist/flightdeck-console-linux-x86_64.tar.gz: the operator's console; unpack it and run bin/flightdeck"
