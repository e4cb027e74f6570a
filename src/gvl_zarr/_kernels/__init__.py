"""Numba kernels: plain arrays in, preallocated arrays out, no I/O and no objects."""

from __future__ import annotations


def prepare() -> None:
    """Load numba's typing and target registries now rather than inside the first batch.

    numba defers ~0.2 s of registry set-up (importing its array and math implementations)
    to the first call of any compiled function, cached or not; `Dataset.open` calls this so
    the first training step does not stall. The total from process start is unchanged.

    Under numba's compiler lock: `Dataset.open`'s background thread (`_warm`) may be loading
    kernels, whose compile path refreshes the same registries; two refreshes at once fail
    inside numba ("ValueError: generator already executing", seen on a 1,000-region store).
    """
    try:
        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.registry import cpu_target

        with global_compiler_lock:
            cpu_target.typing_context.refresh()
            cpu_target.target_context.refresh()
    except (ImportError, AttributeError):  # internal API moved: the first batch pays instead
        pass


def load_cached(dispatchers) -> None:
    """Load the machine code every dispatcher has in numba's on-disk cache for this build and
    source (no compiling), as its first call would: ~2-14 ms a kernel, which a store's first
    batch otherwise pays (`_warm`). Internal numba API, as `prepare`: if it moved, the first
    calls load their code themselves."""
    try:
        from numba.core.registry import cpu_target

        codegen = cpu_target.target_context.codegen()
        for dispatcher in dispatchers:
            cache = dispatcher._cache
            for key in cache._cache_file._load_index():
                sig = key[0]
                current = key[1] == codegen.magic_tuple() and key[2] == cache._index_key(sig, codegen)[2]
                if current and tuple(sig) not in dispatcher.overloads:
                    dispatcher.compile(sig)  # found in the cache: loaded, not compiled
    except Exception:
        pass
