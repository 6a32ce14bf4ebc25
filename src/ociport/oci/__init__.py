"""OCI value types and the descriptor graph: digests, media types, descriptors, manifests
and indexes, references, the walk and validation.
"""
