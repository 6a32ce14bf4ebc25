"""Where bytes come from and go: locations (the one place storage options enter), sources
and sinks, ranged reads, tar reading and writing, compression.
"""
