"""``python -m monai_synth.deploy.restore -i IN -o OUT -m BUNDLE_DIR``."""

import sys

from monai_synth.deploy.app_cli import main

if __name__ == "__main__":
    sys.exit(main("restore"))
