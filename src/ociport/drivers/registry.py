"""DriverRegistry: the drivers plugins registered, by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, final

from ociport.errors import DuplicateDriverError, UnknownDriverError

if TYPE_CHECKING:
    from ociport.drivers.base import ImageDriver

__all__ = ["DriverRegistry"]


@final
class DriverRegistry:
    """Drivers by name; filled through the ``ociport_register_drivers`` hook."""

    def __init__(self) -> None:
        self._drivers: dict[str, type[ImageDriver]] = {}
        self._replaced: set[str] = set()

    def add(self, driver: type[ImageDriver], *, replace: bool = False) -> None:
        """Register ``driver`` under ``driver.name``.

        A driver added with ``replace=True`` keeps its name even against a later plain
        ``add``, because plugins are called in no guaranteed order.

        :raises DuplicateDriverError: the name is taken and ``replace`` is false.
        """
        existing = self._drivers.get(driver.name)
        if existing is not None and existing is not driver and not replace:
            if driver.name in self._replaced:
                return
            raise DuplicateDriverError(
                driver.name, existing.__qualname__, driver.__qualname__
            )
        if replace:
            self._replaced.add(driver.name)
        self._drivers[driver.name] = driver

    def get(self, name: str) -> type[ImageDriver]:
        """The driver class named ``name``.

        :raises UnknownDriverError: listing the known names.
        """
        try:
            return self._drivers[name]
        except KeyError:
            raise UnknownDriverError(name, self.names()) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._drivers)

    def addressed_names(self) -> list[str]:
        """Registered names of drivers that address images rather than files
        (:attr:`~ociport.drivers.base.ImageDriver.addressed`), sorted."""
        return [name for name, cls in sorted(self._drivers.items()) if cls.addressed]

    def drivers(self) -> list[type[ImageDriver]]:
        """Registered driver classes, sorted by name."""
        return [self._drivers[name] for name in self.names()]
