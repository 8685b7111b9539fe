#!/usr/bin/env bash
# Builds the demo medium: a standalone medium from examples/standalone.json,
# written to out/. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash fixtures/make-fixtures.sh
cargo build --release
mkdir -p out
./target/release/tsmedia create --profile examples/standalone.json \
    --format "${FORMAT:-folder}" --output "out/standalone${SUFFIX:-}" --force
echo "demo medium: out/standalone${SUFFIX:-}"
