"""The jobs, once for every format: import, export, inspect, convert, garbage collection
and verification.
"""
