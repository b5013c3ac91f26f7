#!/usr/bin/env bash
# CI (as root): what the PACS and deploy tests need, from the project's own files. Idempotent.
# - Debian's Orthanc (the tests start the `Orthanc` binary themselves, on loopback ports; not the service);
# - the pacs and codecs extras in the main environment;
# - the App SDK in a separate environment: installing it next to MONAI puts `monai.deploy` inside `monai`,
#   which `import monai` then imports (with Holoscan), so it would slow down and can break every other test.
#   The deploy environment sees the main one's packages (--system-site-packages) and gets its own MONAI copy
#   so that the SDK lands in it. The tests find it through MONAI_SYNTH_DEPLOY_PYTHON or the default below.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends orthanc
# the package starts a system service where systemd runs; the tests do not use it
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now orthanc >/dev/null 2>&1 || true; fi
service orthanc stop >/dev/null 2>&1 || true

python -m pip install "torch==2.13.0" -e ".[test,pacs,codecs]"

DEPLOY_VENV="${MONAI_SYNTH_DEPLOY_VENV:-$HOME/.cache/monai-synth-deploy-venv}"
if [ ! -x "$DEPLOY_VENV/bin/python" ]; then
    python -m venv --system-site-packages "$DEPLOY_VENV"
fi
MONAI_VERSION="$(python -c 'import importlib.metadata as m; print(m.version("monai"))')"
# filelock in the venv itself: Holoscan's wheel finishes its install from a .pth file at the next interpreter
# start, before the main environment's packages are on sys.path
"$DEPLOY_VENV/bin/python" -m pip install --ignore-installed --no-deps "monai==$MONAI_VERSION" filelock
"$DEPLOY_VENV/bin/python" -m pip install "torch==2.13.0" -e ".[deploy]"
echo "deploy environment: $DEPLOY_VENV (tests: MONAI_SYNTH_DEPLOY_PYTHON=$DEPLOY_VENV/bin/python)"
