"""A real S3 server for tests: Ceph RGW (Debian's ``radosgw``) on 127.0.0.1.

:class:`RgwServer` runs ``tests/rgw/start-rgw.sh``: a throw-away single-node Ceph cluster
(a monitor and one in-memory ``memstore`` OSD) plus radosgw, in a temporary
directory, on free ports, with an S3 user whose keys are the tests' fake ones
(``s3server.FAKE_ENV``). :meth:`RgwServer.stop` runs ``tests/rgw/stop-rgw.sh``, which
stops the daemons by the PIDs the start script recorded. The start script also leaves a
watchdog that stops them once this process is gone, so a test run that is killed leaves
nothing behind. Starting takes 15-40 s.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "rgw"
#: The Debian packages the cluster needs (scripts/test installs them).
PACKAGES = ("ceph-mon", "ceph-osd", "radosgw", "ceph-common")
#: The programs start-rgw.sh runs (ceph-mgr only with WITH_MGR=1).
PROGRAMS = (
    "ceph-mon",
    "ceph-osd",
    "radosgw",
    "radosgw-admin",
    "ceph",
    "ceph-authtool",
    "monmaptool",
)


def missing_programs() -> list[str]:
    """The programs of :data:`PROGRAMS` that are not installed."""
    return [name for name in PROGRAMS if shutil.which(name) is None]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RgwServer:
    """Ceph RGW on ``127.0.0.1``; :meth:`start` it, then :meth:`stop` it.

    :param key: the S3 user's access key.
    :param secret: its secret key.
    :ivar endpoint: ``http://127.0.0.1:PORT``, once started.
    """

    def __init__(self, key: str, secret: str) -> None:
        self._key = key
        self._secret = secret
        self._dir: Path | None = None
        self.endpoint = ""

    def start(self, timeout: float = 240) -> None:
        """Start the cluster; on failure, stop whatever had started and raise
        :class:`RuntimeError` with the end of the start script's output."""
        self._dir = Path(tempfile.mkdtemp(prefix="ociport-rgw-"))
        env = {
            **os.environ,
            "AK": self._key,
            "SK": self._secret,
            "WATCH_PID": str(os.getpid()),
            "OSD_STORE": "memstore",
        }
        command = [
            str(HERE / "start-rgw.sh"),
            str(self._dir / "cluster"),
            str(_free_port()),
            str(_free_port()),
        ]
        try:
            result = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            self.stop()
            raise RuntimeError(f"start-rgw.sh took more than {timeout:g} s") from exc
        found = re.search(r"^export AWS_ENDPOINT_URL=(\S+)$", result.stdout, re.M)
        if result.returncode != 0 or found is None:
            logs = self._logs()
            self.stop()
            raise RuntimeError(
                f"start-rgw.sh failed (exit {result.returncode}):\n"
                f"{result.stderr[-3000:]}\n{logs}"
            )
        self.endpoint = found.group(1)

    def _logs(self) -> str:
        if self._dir is None:
            return ""
        tails = []
        for log in sorted((self._dir / "cluster" / "log").glob("*.out")):
            text = log.read_text(errors="replace")[-1500:]
            tails.append(f"--- {log.name}\n{text}")
        return "\n".join(tails)

    def stop(self) -> None:
        """Stop the daemons (by PID) and remove the cluster's directory."""
        if self._dir is None:
            return
        subprocess.run(
            [str(HERE / "stop-rgw.sh"), str(self._dir / "cluster"), "--wipe"],
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
