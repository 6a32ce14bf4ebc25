"""Content stores: role interfaces, helpers and the fsspec store."""
