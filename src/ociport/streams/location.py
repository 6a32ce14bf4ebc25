"""Location: an fsspec filesystem plus a path on it, the only place storage options enter."""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from ociport.errors import InvalidLocationError
from ociport.streams.localfs import LOCAL_FILES, absolute_path, is_local_filesystem

if TYPE_CHECKING:
    import fsspec

__all__ = [
    "OCIPORT_OPTIONS",
    "S3FS_RETRIES",
    "S3_CONNECT_TIMEOUT",
    "S3_READ_TIMEOUT",
    "S3_RETRY_ATTEMPTS",
    "S3_RETRY_MODE",
    "SINGLE_WRITER_OPTION",
    "Location",
    "split_options",
]

#: The protocols of s3fs. Their filesystems cache listings by default (a store shared
#: with other clients must not trust them) and get the timeouts and retry budget below.
_S3_PROTOCOLS: Final = frozenset({"s3", "s3a"})
#: The storage option that accepts a store whose server ignores conditional writes
#: (``If-None-Match``), for single-writer use (:mod:`ociport.content.locks`).
SINGLE_WRITER_OPTION: Final = "ociport_single_writer"
#: Storage options that are ociport's own: never passed to the fsspec filesystem.
OCIPORT_OPTIONS: Final = frozenset({SINGLE_WRITER_OPTION})

# S3 defaults (see Location.from_url). Each request to a server that accepts connections
# and then never answers fails after S3FS_RETRIES x (S3_RETRY_ATTEMPTS + 1) x
# S3_READ_TIMEOUT = 2 x 2 x 15 s = 60 s, plus about 2 s of back-off; one whose
# connections go unanswered after 2 x 2 x 10 s = 40 s. s3fs's and botocore's own
# defaults (5 tries of 5 attempts of 15 s) made that more than 6 minutes per request.
#: Seconds to wait for a TCP connection to the S3 endpoint (botocore ``connect_timeout``).
S3_CONNECT_TIMEOUT: Final = 10.0
#: Seconds to wait for each read of an answer, and for sent data to be acknowledged
#: (botocore ``read_timeout``; not a limit on a whole transfer). s3fs's own default.
S3_READ_TIMEOUT: Final = 15.0
#: botocore's retries after the first attempt of each request (its client-config
#: ``max_attempts``: 1 means 2 attempts; ``AWS_MAX_ATTEMPTS`` counts attempts).
S3_RETRY_ATTEMPTS: Final = 1
#: botocore's retry mode: ``standard`` retries connection errors, timeouts, 500, 502,
#: 503, 504 and throttling, with exponential back-off and jitter.
S3_RETRY_MODE: Final = "standard"
#: s3fs's own tries of each call around botocore's (s3fs's ``retries`` attribute); they
#: also re-read a body whose transfer broke off, which botocore does not.
S3FS_RETRIES: Final = 2
#: The s3fs storage option that sets :data:`S3FS_RETRIES` (s3fs has no such constructor
#: argument: ociport sets the attribute).
_S3FS_RETRIES_OPTION: Final = "retries"


def split_options(
    storage_options: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(fsspec's options, ociport's own options)`` of a storage-option mapping."""
    options = dict(storage_options or {})
    own = {key: options.pop(key) for key in OCIPORT_OPTIONS if key in options}
    return options, own


def _number(value: Any, name: str, url: str, kind: type[int] | type[float]) -> Any:
    """``value`` as an int or float (the command line passes strings); ``None`` stays
    (botocore: no limit)."""
    if value is None:
        return None
    if not isinstance(value, bool):
        with contextlib.suppress(TypeError, ValueError):
            number = kind(value)
            if number >= 0:
                return number
    unit = "a number of seconds" if kind is float else "a whole number"
    raise InvalidLocationError(
        url, f"storage option {name} must be {unit}, not {value!r}"
    )


#: botocore's retry settings: ``(name in the AWS config file, environment variable)``.
_BOTOCORE_RETRY_SETTINGS: Final = (
    ("max_attempts", "AWS_MAX_ATTEMPTS"),
    ("retry_mode", "AWS_RETRY_MODE"),
)


def _configured_in_botocore(profile: Any) -> frozenset[str]:
    """Which of ``max_attempts`` and ``retry_mode`` the environment
    (``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``) or the AWS config file's profile set:
    those win over ociport's defaults, as they do over botocore's."""
    found = {
        name for name, variable in _BOTOCORE_RETRY_SETTINGS if os.environ.get(variable)
    }
    try:
        from botocore.exceptions import BotoCoreError
        from botocore.session import Session
    except ImportError:  # no s3fs either: fsspec's ImportError names it
        return frozenset(found)
    try:
        scoped = Session(profile=profile if isinstance(profile, str) else None)
        settings = scoped.get_scoped_config()
    except (BotoCoreError, ValueError):  # a missing profile: s3fs will say so
        settings = {}
    found.update(name for name, _ in _BOTOCORE_RETRY_SETTINGS if settings.get(name))
    return frozenset(found)


def _s3_options(options: dict[str, Any], url: str) -> tuple[dict[str, Any], int]:
    """s3fs's options with ociport's S3 defaults under the user's, and the number of
    s3fs tries (see :meth:`Location.from_url`)."""
    options.setdefault("use_listings_cache", False)
    tries = _number(
        options.pop(_S3FS_RETRIES_OPTION, S3FS_RETRIES), _S3FS_RETRIES_OPTION, url, int
    )
    given = options.get("config_kwargs")
    if given is not None and not isinstance(given, Mapping):
        raise InvalidLocationError(
            url, f"storage option config_kwargs must be a mapping, not {given!r}"
        )
    from ociport.streams.s3http import http_config

    config = dict(given or {})
    for name, default in (
        ("connect_timeout", S3_CONNECT_TIMEOUT),
        ("read_timeout", S3_READ_TIMEOUT),
    ):
        config[name] = _number(
            config.get(name, default), f"config_kwargs.{name}", url, float
        )
    for name, value in http_config(config["read_timeout"]).items():
        mine = config.get(name)
        if isinstance(value, dict) and isinstance(mine, Mapping):
            config[name] = {**value, **mine}
        elif mine is None:
            config[name] = value
    retries = config.get("retries")
    if retries is None or isinstance(retries, Mapping):
        merged = dict(retries or {})
        configured = _configured_in_botocore(options.get("profile"))
        if not {"max_attempts", "total_max_attempts"} & (merged.keys() | configured):
            merged["max_attempts"] = S3_RETRY_ATTEMPTS
        if "mode" not in merged and "retry_mode" not in configured:
            merged["mode"] = S3_RETRY_MODE
        for name in ("max_attempts", "total_max_attempts"):
            if name in merged:
                merged[name] = _number(
                    merged[name], f"config_kwargs.retries.{name}", url, int
                )
        config["retries"] = merged
    options["config_kwargs"] = config
    return options, max(int(tries or 1), 1)


@dataclass(frozen=True, slots=True)
class Location:
    """A path on an fsspec filesystem (local disk, NFS mount, ``memory://``, ``s3://``).

    :ivar fs: the filesystem instance (for a plain local path,
        :data:`~ociport.streams.localfs.LOCAL_FILES`: fsspec's local filesystem,
        imported when first needed).
    :ivar path: the path in that filesystem's own form (no protocol for local paths).
    """

    fs: fsspec.AbstractFileSystem
    path: str

    @classmethod
    def from_url(
        cls,
        url: str | os.PathLike[str],
        storage_options: Mapping[str, Any] | None = None,
    ) -> Location:
        """Resolve a local path or fsspec URL.

        :param url: ``/data/store``, ``file:///...``, ``memory://x``, ``s3://bucket/p``.
        :param storage_options: keyword arguments for the filesystem (``anon``,
            ``endpoint_url``, ...). Credentials and the endpoint may also come from the
            environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...), through
            botocore. ociport's own options (:data:`OCIPORT_OPTIONS`) are left out.
            On S3 (``s3://``, ``s3a://``) ociport fills in defaults; any option given
            wins, and a ``config_kwargs`` mapping given (and its ``retries``) is merged
            key by key:

            - ``use_listings_cache``: ``False``: s3fs would otherwise answer
              ``exists``, ``info`` and listings from listings it made earlier and miss
              blobs and names that another client wrote since;
            - ``config_kwargs`` (botocore's client config): ``connect_timeout``
              :data:`S3_CONNECT_TIMEOUT` (10 s); ``read_timeout``
              :data:`S3_READ_TIMEOUT` (15 s, for each read of an answer, not a whole
              transfer; also how long sent data may go unacknowledged: Linux's
              ``TCP_USER_TIMEOUT``); ``retries``: ``{"max_attempts": 1, "mode":
              "standard"}`` (2 attempts of each request: ``max_attempts`` counts
              retries here); ``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE`` or the AWS
              profile's ``max_attempts``/``retry_mode``, when set, win over these two;
              ``http_session_cls`` and ``connector_args.socket_factory``
              (:mod:`ociport.streams.s3http`: no ``Expect: 100-continue``, whose
              wait aiohttp does not limit, and the ``TCP_USER_TIMEOUT``);
            - ``retries``: :data:`S3FS_RETRIES` (2), s3fs's own tries of each call
              around botocore's attempts (an attribute ociport sets: s3fs takes no such
              argument).

            So each request to a server that stops answering fails after at most
            about a minute (2 x 2 x 15 s), and to one that cannot be reached after 40
            s, instead of more than six minutes. Numbers may be strings (``"5"``), as
            the command line passes them.
        :raises ImportError: when the protocol's package (e.g. s3fs) is not installed;
            fsspec's message names it.
        :raises InvalidLocationError: an unknown protocol, options the filesystem
            rejects, or an S3 timeout or retry count that is not a number.
        """
        text = os.fspath(url)
        options = split_options(storage_options)[0]
        local = None if options else absolute_path(text)
        if local is not None:
            fs = cast("fsspec.AbstractFileSystem", LOCAL_FILES)
            return cls(fs, local)
        from fsspec.core import split_protocol, url_to_fs

        tries: int | None = None
        if split_protocol(text)[0] in _S3_PROTOCOLS:
            options, tries = _s3_options(options, text)
        try:
            fs, path = url_to_fs(text, **options)
        except (ValueError, TypeError) as exc:
            # fsspec's "Protocol not known", or options the filesystem does not take.
            raise InvalidLocationError(text, str(exc)) from exc
        if tries is not None and hasattr(fs, _S3FS_RETRIES_OPTION):
            # An instance attribute of a filesystem that fsspec shares between equal
            # options: locations differing only in this option share the last value.
            setattr(fs, _S3FS_RETRIES_OPTION, tries)
        return cls(fs, path.rstrip("/") or path)

    @property
    def is_local(self) -> bool:
        """Whether this is a path on the local filesystem (rename and flock work)."""
        return is_local_filesystem(self.fs)

    @property
    def url(self) -> str:
        """The location as a URL-ish string for messages (``s3://b/p``, ``/p``)."""
        return self.fs.unstrip_protocol(self.path) if not self.is_local else self.path

    def join(self, *parts: str) -> Location:
        """A location below this one; ``parts`` must be trusted relative paths."""
        return Location(self.fs, posixpath.join(self.path, *parts))

    def __str__(self) -> str:
        return self.url
