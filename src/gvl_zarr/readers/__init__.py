"""Readers of input files; the writer sees only the interfaces in `base`."""
