"""Image drivers: the contract (``base``, ``plan``), the toolkit plugins build on
(``kit``), the registry, and the built-in formats (``oci_archive``, ``oci_layout``)."""
