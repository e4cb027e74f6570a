"""Numba kernels: plain arrays in, preallocated arrays out, no I/O and no objects."""

from __future__ import annotations


def prepare() -> None:
    """Load numba's typing and target registries now rather than inside the first batch.

    numba defers ~0.2 s of registry set-up (importing its array and math implementations)
    to the first call of any compiled function, cached or not; `Dataset.open` calls this so
    the first training step does not stall. The total from process start is unchanged.
    """
    try:
        from numba.core.registry import cpu_target

        cpu_target.typing_context.refresh()
        cpu_target.target_context.refresh()
    except (ImportError, AttributeError):  # internal API moved: the first batch pays instead
        pass
