"""Docker and Podman for the interoperability tier: a private dockerd, a private Podman
storage, the ``ociport`` command line, and small images built offline.

Everything lives under one temporary directory per engine: Docker's data root, exec root,
socket and its own containerd (never the machine's ``/run/containerd``), Podman's vfs
storage. The daemons are started by :func:`start_docker` and stopped by PID by
:meth:`DockerDaemon.stop`, which also runs when the tests fail.

Debian's packages are used by path (``docker.io``: ``/usr/sbin/dockerd``,
``/usr/bin/docker``; ``podman``; ``busybox-static``), not whatever comes first on
``PATH``: a machine may have another ``docker`` client in ``/usr/local/bin``.
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ociport
from ociport.content.helpers import write_blob
from ociport.oci import mediatypes
from ociport.oci.descriptor import Descriptor, Platform
from ociport.oci.manifest import Index
from ociport.testing import name_image

DOCKERD = Path("/usr/sbin/dockerd")
DOCKER = Path("/usr/bin/docker")
BUSYBOX_PATHS = (Path("/bin/busybox"), Path("/usr/bin/busybox"))
#: Every subprocess gets a timeout; the images are a few MB, so these are generous.
TIMEOUT = 120
START_TIMEOUT = 60

#: Fields of ``docker image inspect`` / ``podman image inspect`` that describe the
#: engine's local state, not the image: where the layers are unpacked, the local parent
#: (``docker build`` records one, ``docker load`` of a lone image cannot), tag times and
#: Podman's name history. ``RepoTags`` is compared on its own, in any order.
LOCAL_FIELDS = frozenset(
    {"GraphDriver", "Parent", "Metadata", "NamesHistory", "RepoTags"}
)

#: Fields of ``podman image inspect`` that come from the manifest Podman stored, not from
#: the image's config: a docker-archive holds no manifest (Podman writes one on load), and
#: an OCI manifest is rewritten by ``podman save``, so these match only when the manifest
#: travelled unchanged. (``Size`` counts the manifest's bytes too; ``Comment`` is the
#: config's ``comment`` under a Docker manifest but the first history entry's under an OCI
#: one.)
MANIFEST_FIELDS = frozenset(
    {
        "Digest",
        "RepoDigests",
        "ManifestType",
        "Annotations",
        "Comment",
        "Size",
        "VirtualSize",
    }
)


class ToolsMissing(Exception):
    """A tool the tier runs is not installed (the tests skip with this reason)."""


#: The images of the platform tests. Docker 20.10 cannot emulate arm64 here, but an
#: image whose config says arm64 and whose busybox is this machine's still runs: what it
#: prints tells which of the two images was exported.
PLATFORMS = ("linux/amd64", "linux/arm64")

#: podman save's formats, each a case of the Podman tests (``multi-image``: a
#: ``--multi-image-archive`` of two images, one of them with two tags).
PODMAN_FORMATS = {
    "oci-archive": ["--format", "oci-archive"],
    "docker-archive": ["--format", "docker-archive"],
    "oci-dir": ["--format", "oci-dir"],
    "multi-image": ["--format", "docker-archive", "--multi-image-archive"],
}


@dataclass
class Saved:
    """An archive an engine saved, and what loading it must give back.

    :ivar expected: image ID -> the names the engine lists for it after a load.
    """

    path: Path
    expected: dict[str, list[str]]


@dataclass
class Built:
    """Images built once for the session, as the engine described them then."""

    ids: dict[str, str] = field(default_factory=dict)
    inspect: dict[str, dict[str, Any]] = field(default_factory=dict)
    output: dict[str, str] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    saves: dict[str, Saved] = field(default_factory=dict)
    #: case -> image ID -> inspect after the engine loaded its own saved archive
    reloaded: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


# -- the machine --------------------------------------------------------------------------


def _package_of(path: Path) -> str | None:
    """The Debian package that installed ``path``, when dpkg knows."""
    dpkg = shutil.which("dpkg-query")
    if dpkg is None:
        return None
    candidates = [str(path), str(path.resolve())]
    for candidate in dict.fromkeys(candidates):
        result = subprocess.run(
            [dpkg, "-S", candidate],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].strip()
    return None


def _is_static_elf(path: Path) -> bool:
    """Whether ``path`` is an ELF executable without a program interpreter (static)."""
    with path.open("rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit ELF only
            return False
        order = "little" if head[5] == 1 else "big"
        phoff = int.from_bytes(head[32:40], order)
        phentsize = int.from_bytes(head[54:56], order)
        phnum = int.from_bytes(head[56:58], order)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    PT_INTERP = 3
    return all(
        int.from_bytes(table[i : i + 4], order) != PT_INTERP
        for i in range(0, len(table), phentsize)
    )


def static_busybox() -> Path:
    """busybox-static's ``busybox``: a binary that runs alone in an image.

    :raises ToolsMissing: none, or only a dynamically linked one.
    """
    for path in BUSYBOX_PATHS:
        if path.is_file() and _is_static_elf(path):
            return path
    raise ToolsMissing(
        "a static busybox (Debian package busybox-static) is not installed"
    )


def docker_tools() -> tuple[Path, Path, Path]:
    """dockerd and the docker client of Debian's docker.io, and containerd.

    :raises ToolsMissing: not installed, or not root (dockerd needs root).
    """
    if os.geteuid() != 0:
        raise ToolsMissing("dockerd needs root")
    for path in (DOCKERD, DOCKER):
        if not path.is_file():
            raise ToolsMissing(f"{path} is missing: Debian package docker.io")
        package = _package_of(path)
        if package is not None and package != "docker.io":
            raise ToolsMissing(f"{path} comes from {package}, not docker.io")
    containerd = shutil.which("containerd", path="/usr/bin:/usr/sbin:/bin:/sbin")
    if containerd is None:
        raise ToolsMissing("containerd is missing (docker.io depends on it)")
    return DOCKERD, DOCKER, Path(containerd)


def podman_tool() -> Path:
    """Debian's podman.

    :raises ToolsMissing: not installed, or not root (the tier uses root storage).
    """
    if os.geteuid() != 0:
        raise ToolsMissing("the Podman tests use root storage")
    podman = shutil.which("podman", path="/usr/bin:/usr/sbin:/bin:/sbin")
    if podman is None:
        raise ToolsMissing("podman is missing: Debian package podman")
    return Path(podman)


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
    check: bool = True,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout; on failure raise with its stderr in the message."""
    argv = [os.fspath(a) for a in args]
    result = subprocess.run(
        argv,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited with {result.returncode}\n"
            f"stdout: {result.stdout[-4000:]}\nstderr: {result.stderr[-4000:]}"
        )
    return result


def _set_parent_death_signal() -> None:
    """In the child: get SIGTERM when pytest dies, so no daemon outlives a killed run."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop_pid(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(10)


def _pids_under(root: Path) -> list[int]:
    """Processes whose command line names ``root`` (containerd's shims), not ours."""
    found = []
    needle = os.fsencode(root)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def _unmount_under(root: Path) -> None:
    """Lazily unmount whatever the engines left mounted under ``root``, deepest first."""
    prefix = os.fspath(root)
    with contextlib.suppress(OSError):
        points = [
            line.split()[4].replace("\\040", " ")
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
        ]
        for point in sorted(
            (p for p in points if p == prefix or p.startswith(prefix + "/")),
            reverse=True,
        ):
            run(["umount", "-l", point], timeout=30, check=False)


def _remove_tree(root: Path) -> None:
    _unmount_under(root)
    shutil.rmtree(root, ignore_errors=True)


def _wait_for_socket(path: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{process.args[0]} exited with {process.returncode}:\n{_tail(log)}"
            )
        if path.exists():
            with socket.socket(socket.AF_UNIX) as sock, contextlib.suppress(OSError):
                sock.connect(os.fspath(path))
                return
        time.sleep(0.05)
    raise RuntimeError(f"{process.args[0]} did not listen on {path}:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


# -- Docker -------------------------------------------------------------------------------


@dataclass
class DockerDaemon:
    """A private dockerd (with its own containerd) and the docker client for it."""

    root: Path
    docker: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("DOCKER_") or k == "DOCKER_BUILDKIT"
        }
        env["DOCKER_HOST"] = f"unix://{self.socket}"
        env["DOCKER_CONFIG"] = os.fspath(self.root / "client")
        env["DOCKER_BUILDKIT"] = "0"
        return env

    def __call__(
        self,
        *args: str | os.PathLike[str],
        timeout: float = TIMEOUT,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``docker ARGS...`` against this daemon."""
        return run([self.docker, *args], env=self.env, timeout=timeout, check=check)

    def inspect(self, ref: str) -> dict[str, Any]:
        """``docker image inspect REF``."""
        docs = json.loads(self("image", "inspect", ref).stdout)
        assert len(docs) == 1, docs
        return docs[0]  # type: ignore[no-any-return]

    def image_ids(self) -> set[str]:
        """Every image Id the daemon holds, intermediate ones too."""
        out = self("images", "--all", "--quiet", "--no-trunc").stdout
        return set(out.split())

    def remove_all_images(self) -> None:
        """Leave the daemon without a container or an image."""
        self("container", "prune", "--force")
        self("image", "prune", "--all", "--force")
        left = self.image_ids()
        if left:  # untagged ones prune keeps, e.g. an image loaded by ID
            self("rmi", "--force", *left)
        assert not self.image_ids(), "the daemon still holds images"

    def load(self, archive: Path) -> str:
        """``docker load -i ARCHIVE``; its output."""
        return self("load", "--input", archive).stdout

    def run_image(self, ref: str) -> str:
        """What ``docker run --rm --network none REF`` prints on stdout."""
        return self("run", "--rm", "--network", "none", "--pull", "never", ref).stdout

    def stop(self) -> None:
        """Stop dockerd then containerd by PID (then any shim they left), unmount, delete."""
        for process in self.processes:  # dockerd first: it stops its containers
            _stop_pid(process, grace=20)
        for pid in _pids_under(self.root):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _remove_tree(self.root)


def _containerd_config(root: Path) -> str:
    return (
        "version = 2\n"
        f'root = "{root}/containerd/root"\n'
        f'state = "{root}/containerd/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        "[grpc]\n"
        f'  address = "{root}/containerd/containerd.sock"\n'
        "[ttrpc]\n"
        '  address = ""\n'
        "[debug]\n"
        '  address = ""\n'
        "[metrics]\n"
        '  address = ""\n'
    )


def start_docker() -> DockerDaemon:
    """Start containerd and dockerd on private paths under a new temporary directory.

    dockerd gets its own containerd (``--containerd``), so a containerd already running
    on this machine (``/run/containerd/containerd.sock``) is neither used nor disturbed.
    No iptables, no bridge: containers run with ``--network none``.

    :raises ToolsMissing: docker.io is not installed, or not root.
    :raises RuntimeError: a daemon did not start (with the end of its log).
    """
    dockerd, docker, containerd = docker_tools()
    # Short paths: unix socket names are limited to 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="ociport-dockerd-", dir="/tmp"))
    daemon = DockerDaemon(root, docker)
    try:
        (root / "containerd").mkdir()
        (root / "client").mkdir()
        config = root / "containerd" / "config.toml"
        config.write_text(_containerd_config(root))
        ctr_log = root / "containerd.log"
        with ctr_log.open("wb") as log:
            daemon.processes.insert(
                0,
                subprocess.Popen(
                    [containerd, "--config", config],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_set_parent_death_signal,
                ),
            )
        _wait_for_socket(
            root / "containerd" / "containerd.sock", daemon.processes[0], ctr_log
        )
        (root / "daemon.json").write_text("{}\n")
        dockerd_log = root / "dockerd.log"
        with dockerd_log.open("wb") as log:
            daemon.processes.insert(
                0,
                subprocess.Popen(
                    [
                        dockerd,
                        "--config-file",
                        root / "daemon.json",
                        "--containerd",
                        root / "containerd" / "containerd.sock",
                        "--data-root",
                        root / "data",
                        "--exec-root",
                        root / "exec",
                        "--pidfile",
                        root / "dockerd.pid",
                        "--host",
                        f"unix://{daemon.socket}",
                        "--iptables=false",
                        "--ip-masq=false",
                        "--ip6tables=false",
                        "--bridge=none",
                        "--shutdown-timeout=5",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_set_parent_death_signal,
                ),
            )
        _wait_for_socket(daemon.socket, daemon.processes[0], dockerd_log)
        daemon("version", timeout=START_TIMEOUT)
    except BaseException:
        daemon.stop()
        raise
    return daemon


# -- Podman -------------------------------------------------------------------------------


@dataclass
class Podman:
    """Podman on a private vfs storage (no daemon)."""

    root: Path
    podman: Path

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CONTAINERS_", "REGISTRY_AUTH"))
        }
        env["CONTAINERS_STORAGE_CONF"] = os.fspath(self.root / "storage.conf")
        env["TMPDIR"] = os.fspath(self.root / "tmp")
        return env

    def __call__(
        self,
        *args: str | os.PathLike[str],
        timeout: float = TIMEOUT,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``podman ARGS...`` on this storage."""
        argv = [
            self.podman,
            "--root",
            self.root / "storage",
            "--runroot",
            self.root / "run",
            "--storage-driver",
            "vfs",
            "--tmpdir",
            self.root / "libpod-tmp",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "none",
            *args,
        ]
        return run(argv, env=self.env, timeout=timeout, check=check)

    def inspect(self, ref: str) -> dict[str, Any]:
        """``podman image inspect REF``."""
        docs = json.loads(self("image", "inspect", ref).stdout)
        assert len(docs) == 1, docs
        return docs[0]  # type: ignore[no-any-return]

    def image_ids(self) -> set[str]:
        """Every image ID of the storage (as ``Id`` in ``inspect``: no ``sha256:``)."""
        out = self("images", "--all", "--quiet", "--no-trunc").stdout
        return {i.removeprefix("sha256:") for i in out.split()}

    def remove_all_images(self) -> None:
        self("rmi", "--all", "--force")
        assert not self.image_ids(), "podman still holds images"

    def load(self, archive: Path) -> str:
        return self("load", "--input", archive).stdout

    def read_file(self, ref: str, path: str) -> bytes:
        """A file of the image, read through ``podman image mount``."""
        mountpoint = Path(self("image", "mount", ref).stdout.strip())
        try:
            return (mountpoint / path.lstrip("/")).read_bytes()
        finally:
            self("image", "unmount", ref)

    def stop(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self("image", "unmount", "--all", timeout=30)
        _remove_tree(self.root)


def start_podman() -> Podman:
    """Podman with its storage (vfs) in a new temporary directory.

    :raises ToolsMissing: podman is not installed, or not root.
    """
    podman = Podman(
        Path(tempfile.mkdtemp(prefix="ociport-podman-", dir="/tmp")), podman_tool()
    )
    for sub in ("storage", "run", "tmp", "libpod-tmp"):
        (podman.root / sub).mkdir()
    (podman.root / "storage.conf").write_text(
        "[storage]\n"
        'driver = "vfs"\n'
        f'graphroot = "{podman.root}/storage"\n'
        f'runroot = "{podman.root}/run"\n'
    )
    return podman


# -- ociport's command line -----------------------------------------------------------------


def ociport_cli(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """Run the ``ociport`` command (of this interpreter's environment)."""
    return run([sys.executable, "-m", "ociport", *args])


def ociport_round_trip(
    archive: Path, work: Path, export_format: str, *export_options: str
) -> Path:
    """``ociport import ARCHIVE`` into a new store under ``work``, then export every
    image it named to one archive of ``export_format``; returns that archive."""
    store = work / "store"
    imported = ociport_cli("--store", store, "import", archive).stdout
    names = [line.split("\t")[0] for line in imported.splitlines()]  # NAME<TAB>DIGEST
    assert names, f"ociport imported no image from {archive}"
    out = work / f"export.{export_format}.tar"
    ociport_cli(
        "--store",
        store,
        "export",
        "--format",
        export_format,
        *export_options,
        out,
        *names,
    )
    return out


# -- images -------------------------------------------------------------------------------


def rootfs_tar(busybox: Path) -> bytes:
    """A root filesystem holding only ``/bin/busybox`` (and ``/bin/sh`` linked to it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("bin", "tmp"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        data = busybox.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/sh")
        link.type = tarfile.SYMTYPE
        link.linkname = "busybox"
        tar.addfile(link)
    return buffer.getvalue()


def gzip_file(source: Path, dest: Path) -> Path:
    with source.open("rb") as src, gzip.open(dest, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    return dest


def comparable(info: dict[str, Any], *, manifest: bool = True) -> dict[str, Any]:
    """An inspect document without the engine-local fields (:data:`LOCAL_FIELDS`), and
    without the manifest's (:data:`MANIFEST_FIELDS`) unless ``manifest``; of
    ``RepoDigests``, only the digests."""
    left_out = LOCAL_FIELDS if manifest else LOCAL_FIELDS | MANIFEST_FIELDS
    doc = {k: v for k, v in info.items() if k not in left_out}
    if "RepoDigests" in doc:
        # Names are compared as RepoTags (Podman names an oci-dir it loads by its path).
        doc["RepoDigests"] = sorted({d.partition("@")[2] for d in doc["RepoDigests"]})
    return doc


def assemble_index(store_path: Path, name: str, members: dict[str, str]) -> None:
    """Name ``name``, in the store, an OCI index of the images ``members`` names
    (``{"linux/arm64": image name}``): a multi-platform image made without a registry."""
    store = ociport.open_store(os.fspath(store_path))
    children = []
    for platform, member in members.items():
        target = store.get(member).target
        children.append(
            Descriptor(
                target.media_type,
                target.digest,
                target.size,
                platform=Platform.parse(platform),
            )
        )
    index = Index.build(children)
    descriptor = Descriptor(mediatypes.OCI_IMAGE_INDEX, index.digest, len(index.raw))
    write_blob(store.content, io.BytesIO(index.raw), descriptor)
    name_image(store.content, name, descriptor)
