"""Numba kernels: plain arrays in, preallocated arrays out, no I/O and no objects."""
