"""Reading a ``docker save`` archive in one pass: every file staged, links and JSON kept.

Docker writes ``manifest.json`` last, so nothing tells which member is a layer until the
end: every regular file (but the small metadata files) is staged with its digest computed
while it is written, and symbolic or hard links between members are recorded and
resolved once the stream ends (chains followed, cycles refused).
"""

from __future__ import annotations

import posixpath
import re
import tarfile
from dataclasses import dataclass, field
from typing import IO, Final

from ociport.drivers.kit import (
    Digest,
    DocumentTooLargeError,
    FormatError,
    StagingArea,
    blob_member_digest,
    iter_members,
    member_path,
)

__all__ = ["METADATA_BUDGET", "ArchiveContents", "looks_like_docker", "read_archive"]

#: Members read whole into memory rather than staged as blobs.
_METADATA: Final = frozenset(
    {"manifest.json", "repositories", "index.json", "oci-layout"}
)
_SKIPPED: Final = frozenset({"VERSION"})
_MAX_LINK_HOPS: Final = 40
#: Most bytes of metadata files (``manifest.json``, ``repositories``, ``<id>/json``)
#: held at once (64 MiB): a real archive has a few KiB of them.
METADATA_BUDGET: Final = 64 << 20
_DOCKER_MEMBER: Final = re.compile(
    r"manifest\.json|repositories|(?:sha256:)?[0-9a-f]{64}(?:\.json|\.tar(?:\.gz|\.zst)?)?"
    r"|[0-9a-f]{64}/(?:VERSION|json|layer\.tar)?"
)


def looks_like_docker(name: str) -> bool:
    """Whether a member name is one ``docker save`` writes."""
    return bool(_DOCKER_MEMBER.fullmatch(name))


@dataclass(slots=True)
class ArchiveContents:
    """What a single pass over a Docker archive found.

    :ivar files: staged regular files: member name -> digest.
    :ivar links: link members: member name -> the member name it points at.
    :ivar metadata: ``manifest.json``, ``repositories`` and legacy ``<id>/json`` bytes.
    """

    files: dict[str, Digest] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, bytes] = field(default_factory=dict)

    def resolve(self, name: str) -> Digest:
        """The digest of the file ``name`` refers to, following links.

        :raises FormatError: the name (or a link target) is not in the archive, or the
            links form a cycle or a chain longer than 40.
        """
        seen = [member_path(name)]
        while seen[-1] not in self.files:
            target = self.links.get(seen[-1])
            if target is None:
                via = f" (through links, {seen[-1]!r})" if len(seen) > 1 else ""
                raise FormatError(f"{name!r}{via} is not in the archive")
            if target in seen:
                raise FormatError(
                    f"links form a cycle: {' -> '.join([*seen, target])}", member=name
                )
            if len(seen) > _MAX_LINK_HOPS:
                raise FormatError("link chain is too long", member=name)
            seen.append(target)
        return self.files[seen[-1]]


def _is_metadata(name: str) -> bool:
    return name in _METADATA or posixpath.basename(name) == "json"


def read_archive(
    stream: IO[bytes], staging: StagingArea, *, label: str, max_document: int
) -> ArchiveContents:
    """Stage every file of a Docker archive and collect its links and metadata.

    :raises FormatError: a truncated archive, a bad ``blobs/`` member name, an oversized
        metadata file.
    :raises DigestMismatchError: a ``blobs/<alg>/<hex>`` member (Docker 25) whose bytes
        do not match its name.
    """
    contents = ArchiveContents()
    held = 0
    for member in iter_members(stream, label=label):
        name = member.name
        if not name or member.type == tarfile.DIRTYPE:
            continue
        if member.type == tarfile.SYMTYPE:
            target = posixpath.normpath(
                posixpath.join(posixpath.dirname(name), member.linkname)
            )
            contents.links[name] = member_path(target)
        elif member.type == tarfile.LNKTYPE:
            contents.links[name] = member_path(member.linkname)
        elif not member.is_file or posixpath.basename(name) in _SKIPPED:
            continue
        elif _is_metadata(name):
            if member.size > max_document:
                raise DocumentTooLargeError(member.size, max_document, member=name)
            held += member.size
            if held > METADATA_BUDGET:
                raise FormatError(
                    f"metadata files of more than {METADATA_BUDGET} bytes", member=name
                )
            contents.metadata[name] = member.stream.read()
        else:
            digest = blob_member_digest(name)
            if digest is not None:
                staging.add(digest, member.size, member.stream, where=name)
            else:
                digest = staging.add_unknown(member.size, member.stream, where=name)
            contents.files[name] = digest
    return contents
