"""The ``docker`` driver: images in registries, named as skopeo names them
(``docker://HOST[:PORT]/REPO[:TAG|@DIGEST]``).

A registry is addressed, not a file (:attr:`ImageDriver.addressed`): the engine hands
the driver an :class:`~ociport.drivers.kit.ImageAddress`, whose options are
``tls_verify``, ``creds`` and ``authfile``
(:class:`~ociport_registry.options.RegistryOptions`; credentials are otherwise found
where skopeo, podman and Docker keep them: :mod:`ociport_registry.credentials`).
Reading fetches the root manifest or index; the engine then walks it and reads, through
:class:`~ociport_registry.source.RegistryContent`, only what the selected platforms
need. Writing pushes the plan (:func:`~ociport_registry.export.push_plan`).
"""

from __future__ import annotations

import dataclasses
from typing import IO, TYPE_CHECKING, Final

from ociport.drivers.kit import (
    ANNOTATION_IMAGE_NAME,
    Descriptor,
    Digest,
    ExportPlan,
    ImageAddress,
    ImageDriver,
    ImageSource,
    Index,
    Location,
    OciportError,
    SourceContext,
    UnsupportedSourceError,
    mediatypes,
)
from ociport_registry.credentials import find_credentials
from ociport_registry.options import RegistryOptions
from ociport_registry.reference import RegistryReference

if TYPE_CHECKING:
    from ociport_registry.client.session import RegistrySession

# httpx (through the client) is imported only when a registry is used: this module is
# imported whenever drivers are registered.

__all__ = ["RegistryDriver"]

#: Blobs the engine reads from a registry at once.
PULL_THREADS: Final = 4
_FORM: Final = "docker://HOST[:PORT]/REPO[:TAG|@DIGEST]"


class RegistryDriver(ImageDriver):
    """A registry speaking the OCI distribution-spec (skopeo's ``docker://``)."""

    name = "docker"
    summary = "container registry, OCI distribution-spec (skopeo docker://)"
    accepts_stream = False
    addressed = True
    holds_referrers = True

    @classmethod
    def sniff(cls, head: bytes | None, location: Location | None) -> bool:
        return False  # never a file: only ``docker://`` names a registry

    def open_source(
        self, source: IO[bytes] | Location, context: SourceContext
    ) -> ImageSource:
        raise UnsupportedSourceError(self.name, f"a file or stream (write {_FORM})")

    def write(self, plan: ExportPlan, target: IO[bytes] | Location) -> None:
        raise UnsupportedSourceError(self.name, f"a file or stream (write {_FORM})")

    def open_address(
        self, address: ImageAddress, context: SourceContext
    ) -> ImageSource:
        from ociport_registry.source import RegistryContent

        reference = RegistryReference.parse(address.reference)
        session = _session(reference, address, push=False)
        try:
            root, raw = _fetch_root(session, reference, context.max_document)
            referrers, made, notes = _referrers(session, root, raw)
        except BaseException:
            session.close()
            raise
        documents = {root.digest: raw, **made}
        content = RegistryContent(session, documents, context.max_document)
        named = root.with_annotations({ANNOTATION_IMAGE_NAME: str(reference)})
        return ImageSource(
            [named, *referrers],
            content,
            notes=notes,
            blob_threads=PULL_THREADS,
            on_close=session.close,
        )

    def write_address(self, plan: ExportPlan, address: ImageAddress) -> None:
        from ociport_registry.export import mount_source, push_plan

        reference = RegistryReference.parse(address.reference)
        source = mount_source(plan, reference)
        with _session(reference, address, push=True, mount_from=source) as session:
            push_plan(session, reference, plan, mount_from=source)


def _fetch_root(
    session: RegistrySession, reference: RegistryReference, max_document: int
) -> tuple[Descriptor, bytes]:
    """The manifest or index the reference names, and its bytes."""
    from ociport_registry.client.pull import explain_missing, fetch_manifest
    from ociport_registry.errors import RegistryNotFoundError

    try:
        return fetch_manifest(
            session, reference.manifest_reference, max_size=max_document
        )
    except RegistryNotFoundError as exc:
        error = explain_missing(session, exc)
        if error is exc:
            raise
        raise error from exc


def _referrers(
    session: RegistrySession, root: Descriptor, raw: bytes
) -> tuple[list[Descriptor], dict[Digest, bytes], list[str]]:
    """The roots holding the referrers of the root and of an index's manifests, the
    documents made for them, and notes (a registry that will not list them)."""
    from ociport_registry.referrers import referrer_roots

    subjects = [root.digest]
    if root.media_type in mediatypes.INDEX_MEDIA_TYPES:
        subjects += [
            c.digest for c in Index.parse(raw, where=str(root.digest)).manifests
        ]
    try:
        roots, made = referrer_roots(session, subjects)
    except OciportError as exc:  # the image does not depend on them
        return [], {}, [f"referrers not looked up: {exc}"]
    return roots, made, []


def _session(
    reference: RegistryReference,
    address: ImageAddress,
    *,
    push: bool,
    mount_from: str | None = None,
) -> RegistrySession:
    """A session for ``reference`` with the address's options and the credentials
    given or stored; allowed to pull from ``mount_from`` too."""
    from ociport_registry.client.session import RegistrySession

    options = RegistryOptions.from_mapping(address.options, str(address))
    if options.credentials is None:
        stored = find_credentials(
            reference.registry, reference.repository, auth_file=options.auth_file
        )
        options = dataclasses.replace(options, credentials=stored)
    pull_too = [mount_from] if mount_from else []
    return RegistrySession(reference, options, push=push, pull_too=pull_too)
