"""Session fixtures of the interoperability tier: a private dockerd and a private Podman
storage, each with a few small images built offline once (busybox-static, no registry),
and the archives ``docker save`` and ``podman save`` make of them.

The archives are all made before any test runs, so each test can start from an engine
without images, ``docker load``/``podman load`` what ociport exported, and compare with
what the engine reported for the original images.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from interop_engines import (
    PLATFORMS,
    PODMAN_FORMATS,
    Built,
    DockerDaemon,
    Podman,
    Saved,
    ToolsMissing,
    gzip_file,
    rootfs_tar,
    start_docker,
    start_podman,
    static_busybox,
)


@pytest.fixture(scope="session")
def interop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("interop")


@pytest.fixture(scope="session")
def rootfs(interop_dir: Path) -> Path:
    """``rootfs.tar``: busybox-static as ``/bin/busybox``, nothing else."""
    try:
        busybox = static_busybox()
    except ToolsMissing as exc:
        pytest.skip(str(exc))
    path = interop_dir / "rootfs.tar"
    path.write_bytes(rootfs_tar(busybox))
    return path


# -- Docker -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker() -> Iterator[DockerDaemon]:
    """A private dockerd for the session, stopped by PID at the end (also on failure)."""
    try:
        daemon = start_docker()
    except ToolsMissing as exc:
        pytest.skip(str(exc))
    try:
        yield daemon
    finally:
        daemon.stop()


DOCKERFILE_A = """\
FROM ociport-test/base:1
RUN ["/bin/busybox", "sh", "-c", "echo written by RUN > /run.txt"]
COPY hello.txt /srv/hello.txt
ENV GREETING="hello from a"
LABEL org.opencontainers.image.title="ociport interop a"
WORKDIR /srv
CMD ["/bin/busybox", "sh", "-c", "cat hello.txt /run.txt; echo \\"$GREETING\\"; pwd"]
"""

# The same COPY twice: two identical layers (one diff ID listed twice in the config),
# with a RUN between that changes nothing (a history entry without a layer).
DOCKERFILE_B = """\
FROM ociport-test/base:1
COPY b.txt /b.txt
RUN ["/bin/busybox", "true"]
COPY b.txt /b.txt
USER 1000:1000
ENTRYPOINT ["/bin/busybox"]
CMD ["sh", "-c", "cat /b.txt; id -u"]
"""

DOCKERFILE_PLATFORM = """\
FROM scratch
ADD rootfs.tar /
CMD ["/bin/busybox", "echo", "{platform}"]
"""


def _docker_build(docker: DockerDaemon, context: Path, tag: str, *options: str) -> str:
    docker("build", "--quiet", "--network", "none", *options, "--tag", tag, context)
    return str(docker.inspect(tag)["Id"])


@pytest.fixture(scope="session")
def docker_images(docker: DockerDaemon, rootfs: Path, interop_dir: Path) -> Built:
    """Images built with ``docker import`` and ``docker build``, and the archives
    ``docker save`` made of them (keys of ``saves``: the cases of the Docker tests)."""
    work = interop_dir / "docker"
    work.mkdir()
    built = Built()
    docker(
        "import",
        "--change",
        'CMD ["/bin/busybox", "echo", "base image"]',
        rootfs,
        "ociport-test/base:1",
    )
    built.ids["base"] = str(docker.inspect("ociport-test/base:1")["Id"])
    for name, dockerfile, files in [
        ("a", DOCKERFILE_A, {"hello.txt": b"hello, world\n"}),
        ("b", DOCKERFILE_B, {"b.txt": b"this is b\n"}),
    ]:
        context = work / f"context-{name}"
        context.mkdir()
        (context / "Dockerfile").write_text(dockerfile)
        for file, data in files.items():
            (context / file).write_bytes(data)
        built.ids[name] = _docker_build(docker, context, f"ociport-test/{name}:1")
    docker("tag", "ociport-test/a:1", "ociport-test/a:latest")
    docker("tag", "ociport-test/a:1", "registry.example:5000/team/a:extra")

    context = work / "context-platform"
    context.mkdir()
    (context / "rootfs.tar").write_bytes(rootfs.read_bytes())
    for platform in PLATFORMS:
        (context / "Dockerfile").write_text(
            DOCKERFILE_PLATFORM.format(platform=platform)
        )
        tag = f"ociport-test/platform:{platform.split('/')[1]}"
        built.ids[platform] = _docker_build(
            docker, context, tag, "--no-cache", "--platform", platform
        )

    for image_id in built.ids.values():
        built.inspect[image_id] = docker.inspect(image_id)
        built.output[image_id] = docker.run_image(image_id)
    b_layers = built.inspect[built.ids["b"]]["RootFS"]["Layers"]
    assert b_layers[-1] == b_layers[-2], "image b should repeat its last layer"

    a, b, base = built.ids["a"], built.ids["b"], built.ids["base"]
    tags = [
        "ociport-test/a:1",
        "ociport-test/a:latest",
        "registry.example:5000/team/a:extra",
    ]
    cases: dict[str, tuple[list[str], dict[str, list[str]]]] = {
        "one-image": (["ociport-test/a:1"], {a: ["ociport-test/a:1"]}),
        "several-images": (
            ["ociport-test/a:1", "ociport-test/b:1", "ociport-test/base:1"],
            {
                a: ["ociport-test/a:1"],
                b: ["ociport-test/b:1"],
                base: ["ociport-test/base:1"],
            },
        ),
        "several-tags": (tags, {a: tags}),
        "by-id": ([b], {b: []}),
        "platforms": (
            [f"ociport-test/platform:{p.split('/')[1]}" for p in PLATFORMS],
            {
                built.ids[p]: [f"ociport-test/platform:{p.split('/')[1]}"]
                for p in PLATFORMS
            },
        ),
    }
    for case, (refs, expected) in cases.items():
        path = work / f"{case}.tar"
        docker("save", "--output", path, *refs)
        built.saves[case] = Saved(path, expected)
    gzipped = gzip_file(built.saves["one-image"].path, work / "gzipped.tar.gz")
    built.saves["gzipped"] = Saved(gzipped, {a: ["ociport-test/a:1"]})
    return built


# -- Podman -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def podman() -> Iterator[Podman]:
    """Podman on a private vfs storage, deleted at the end."""
    try:
        engine = start_podman()
    except ToolsMissing as exc:
        pytest.skip(str(exc))
    try:
        yield engine
    finally:
        engine.stop()


CONTAINERFILE = """\
FROM localhost/ociport-test/pbase:1
COPY hello.txt /srv/hello.txt
COPY data /srv/data
ENV GREETING="hello from podman"
LABEL org.opencontainers.image.title="ociport interop p"
WORKDIR /srv
CMD ["/bin/busybox", "cat", "/srv/hello.txt"]
"""


@pytest.fixture(scope="session")
def podman_images(podman: Podman, rootfs: Path, interop_dir: Path) -> Built:
    """Images built with ``podman import`` and ``podman build`` (COPY only: Podman
    cannot run containers here), and what ``podman save`` made of them."""
    work = interop_dir / "podman"
    work.mkdir()
    built = Built()
    base, image = "localhost/ociport-test/pbase:1", "localhost/ociport-test/p:1"
    podman(
        "import",
        "--change",
        'CMD ["/bin/busybox", "echo", "podman base"]',
        rootfs,
        base,
    )
    context = work / "context"
    (context / "data").mkdir(parents=True)
    (context / "Containerfile").write_text(CONTAINERFILE)
    files = {"/srv/hello.txt": b"hello from podman\n", "/srv/data/x.json": b"{}\n"}
    for path, data in files.items():
        (context / path.removeprefix("/srv/")).write_bytes(data)
    podman(
        "build", "--quiet", "--pull=never", "--network", "none", "-t", image, context
    )
    podman("tag", image, "localhost/ociport-test/p:latest")
    built.ids = {"base": podman.inspect(base)["Id"], "p": podman.inspect(image)["Id"]}

    platform_context = work / "context-platform"
    platform_context.mkdir()
    (platform_context / "rootfs.tar").write_bytes(rootfs.read_bytes())
    for platform in PLATFORMS:
        (platform_context / "Containerfile").write_text(
            DOCKERFILE_PLATFORM.format(platform=platform)
        )
        tag = f"localhost/ociport-test/platform:{platform.split('/')[1]}"
        podman(
            "build",
            "--quiet",
            "--network",
            "none",
            "--platform",
            platform,
            "-t",
            tag,
            platform_context,
        )
        built.ids[platform] = podman.inspect(tag)["Id"]
    for image_id in built.ids.values():
        built.inspect[image_id] = podman.inspect(image_id)
    built.files[built.ids["p"]] = files

    p, pbase = built.ids["p"], built.ids["base"]
    for case, options in PODMAN_FORMATS.items():
        path = work / (case if case == "oci-dir" else f"{case}.tar")
        if case == "multi-image":
            refs = [image, "localhost/ociport-test/p:latest", base]
            expected = {p: refs[:2], pbase: [base]}
        else:
            refs, expected = [image], {p: [image]}
        podman("save", "--quiet", *options, "--output", path, *refs)
        built.saves[case] = Saved(path, expected)
    refs = [f"localhost/ociport-test/platform:{p.split('/')[1]}" for p in PLATFORMS]
    path = work / "platforms.tar"
    podman("save", "--quiet", "--multi-image-archive", "--output", path, *refs)
    built.saves["platforms"] = Saved(
        path, {built.ids[p]: [ref] for p, ref in zip(PLATFORMS, refs, strict=True)}
    )
    # What Podman itself gives back from each archive: the reference for the fields of
    # the manifest (MANIFEST_FIELDS), which podman save rewrites.
    for case, saved in built.saves.items():
        podman.remove_all_images()
        podman.load(saved.path)
        built.reloaded[case] = {i: podman.inspect(i) for i in saved.expected}
    return built
