"""Built-in plugins, loaded through the ``ociport`` entry-point group like any other."""
