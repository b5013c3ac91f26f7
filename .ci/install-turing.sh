#!/usr/bin/env bash
# CI: what the visual Turing test (monai-synth turing) tests need, beyond `pip install -e .[test]`:
# Debian's chromium for the headless browser test, and Playwright for Python to drive it.
# Playwright's own browser download (`playwright install`) is not used: the test launches /usr/bin/chromium.
# Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
apt-get update
apt-get install -y chromium
# the CPU torch wheel, as .ci/run installs it (a bare `-e .` would pull the multi-GB CUDA build)
python -m pip install "torch==2.13.0" -e ".[test,turing-test]"
