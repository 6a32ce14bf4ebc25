"""Image drivers: the ImageDriver interface, the registry and the built-in formats."""
