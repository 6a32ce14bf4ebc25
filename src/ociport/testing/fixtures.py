"""Pytest fixtures for plugin authors: empty content stores and reproducible images.

Enable them in a ``conftest.py`` with ``pytest_plugins = ["ociport.testing.fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ociport.content.fsstore import FsspecContentStore
from ociport.content.interfaces import ContentStore
from ociport.oci.descriptor import Descriptor
from ociport.streams.location import Location
from ociport.testing.factories import random_image
from ociport.testing.stores import new_memory_store, remove_store

__all__ = [
    "file_content_store",
    "memory_content_store",
    "random_image_factory",
]


@pytest.fixture
def memory_content_store() -> Iterator[FsspecContentStore]:
    """An empty :class:`FsspecContentStore` on ``memory://``, removed afterwards."""
    store = new_memory_store()
    yield store
    remove_store(store)


@pytest.fixture
def file_content_store(tmp_path: Path) -> FsspecContentStore:
    """An empty :class:`FsspecContentStore` in a temporary directory."""
    return FsspecContentStore(Location.from_url(str(tmp_path / "content-store")))


@pytest.fixture
def random_image_factory() -> Callable[..., Descriptor]:
    """:func:`~ociport.testing.factories.random_image`, as a fixture.

    Call it as ``random_image_factory(store, layers=..., seed=..., platforms=...)``.
    """

    def make(store: ContentStore, **options: object) -> Descriptor:
        return random_image(store, **options)  # type: ignore[arg-type]

    return make
