"""Download a model from the Hugging Face hub into models/: `python download_model.py org/repo --file NAME`."""

import sys

from webui.downloads.cli import main

if __name__ == "__main__":
    sys.exit(main())
