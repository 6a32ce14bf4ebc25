"""Helpers for the registry plugin's tests: skopeo, the CLI, the test user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The user of the registry with basic auth; the password holds a colon on purpose.
USER: tuple[str, str] = ("ociport", "s3cret:pass")


def skopeo(*args: str) -> str:
    """Run skopeo; its stdout (a failure shows its stderr)."""
    result = subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``ociport ARGS`` in a fresh process, with the installed plugins."""
    env = {k: v for k, v in os.environ.items() if k != "OCIPORT_STORE"}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    return subprocess.run(
        [sys.executable, "-m", "ociport", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
