"""``python -m ociport``: the command-line interface."""

from __future__ import annotations

from ociport.cli import main

if __name__ == "__main__":
    main()
