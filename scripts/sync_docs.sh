#!/usr/bin/env bash
# Regenerate what tests/test_docs.py keeps true: docs/openapi.json and the README settings table.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs
.venv/bin/oja openapi --output docs/openapi.json
.venv/bin/python scripts/readme_settings.py
