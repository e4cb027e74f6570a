"""The haplotype/track kernel against the slow Python reference on generated variants."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from _slow_reference import apply_calls, apply_calls_annotated
from gvl_zarr._kernels.haplotypes import reconstruct, reference_windows
from gvl_zarr._kernels.summaries import haplotype_summaries

BASES = "ACGT"


@st.composite
def cases(draw):
    ref_len = draw(st.integers(20, 120))
    ref = "".join(draw(st.lists(st.sampled_from(BASES), min_size=ref_len, max_size=ref_len)))
    origin = draw(st.integers(-30, 1000))
    n_var = draw(st.integers(0, 8))
    calls = []
    for _ in range(n_var):
        pos = origin + draw(st.integers(0, ref_len - 1))
        rlen = draw(st.integers(1, 5))
        i = pos - origin
        r = (ref[i : i + rlen] + "A" * rlen)[:rlen]
        kind = draw(st.sampled_from(["snp", "ins", "del", "complex"]))
        if kind == "snp":
            a = "".join(draw(st.sampled_from(BASES)) for _ in range(rlen))
        elif kind == "ins":
            a = r + "".join(draw(st.lists(st.sampled_from(BASES), min_size=1, max_size=6)))
        elif kind == "del":
            a = r[:1]
        else:
            a = "".join(draw(st.lists(st.sampled_from(BASES), min_size=1, max_size=7)))
        calls.append((pos, r, a))
    calls.sort(key=lambda c: c[0])
    win = origin + draw(st.integers(-10, ref_len))
    length = draw(st.integers(1, 80))
    return ref, origin, calls, win, length


def _run_reconstruct(ref_arr, origin, pos, ref_len, alt_offsets, alt, starts, values, win, length, skip, fill=(0, 0.0)):
    """One haplotype of `length` bases from `win`, its first `skip` bases dropped, with one
    track (one interval per base) and its annotation."""
    n_calls = len(pos)
    out = np.empty(length, np.uint8)
    tracks = np.empty(length, np.float32)
    ann_var = np.empty(length, np.int32)
    ann_pos = np.empty(length, np.int32)
    reconstruct(
        ref_arr,
        np.array([[0, len(ref_arr)]], np.int64),
        np.array([origin], np.int64),
        pos,
        ref_len,
        alt_offsets,
        alt,
        np.arange(n_calls, dtype=np.int32),
        np.zeros(0, np.int64),
        np.array([[[0, n_calls]]], np.int64),
        np.array([0], np.int64),
        np.array([win], np.int64),
        np.array([[skip]], np.int64),
        starts,
        starts + 1,
        values,
        np.array([[[0, len(ref_arr)]]], np.int64),
        np.array([fill[0]], np.int8),
        np.array([fill[1]], np.float32),
        np.array([[0]], np.int64),
        np.array([[length]], np.int64),
        np.array([[[0]]], np.int64),
        out,
        tracks,
        ann_var,
        ann_pos,
        0,
        1,
    )
    return out, tracks, ann_var, ann_pos


def test_insertion_fill_modes_on_a_known_insertion() -> None:
    """G>GTT at index 2 of ACGTACGT (track value 1 + index): the stretch is the anchor and
    the two inserted bases; interpolation runs from the anchor's 3 towards the next base's 4."""
    from gvl_zarr._kernels.haplotypes import CONSTANT, INTERPOLATE, REPEAT, REPEAT_NORM

    ref = np.frombuffer(b"ACGTACGT", np.uint8).copy()
    starts = np.arange(8, dtype=np.int64)
    values = np.arange(1, 9, dtype=np.float32)
    args = (ref, 0, np.array([2], np.int64), np.array([1], np.int32), np.array([0, 3], np.int64))
    alt = np.frombuffer(b"GTT", np.uint8).copy()
    expected = {
        REPEAT: [1, 2, 3, 3, 3, 4, 5],
        REPEAT_NORM: [1, 2, 1, 1, 1, 4, 5],
        CONSTANT: [1, 2, -7, -7, -7, 4, 5],
        INTERPOLATE: [1, 2, 3, 3 + 1 / 3, 3 + 2 / 3, 4, 5],
    }
    for mode, want in expected.items():
        out, tracks, _, _ = _run_reconstruct(*args, alt, starts, values, 0, 7, 0, fill=(mode, -7.0))
        assert out.tobytes() == b"ACGTTTA"
        np.testing.assert_allclose(tracks, want, rtol=1e-6, err_msg=str(mode))


def haplotype_lengths_one(pos, ref_len, alt_offsets, win, span) -> int:
    out, counts = np.empty((1, 1), np.int64), np.empty((1, 1), np.int32)
    calls = np.arange(len(pos), dtype=np.int32)
    offsets = np.array([[[0, len(pos)]]], np.int64)
    haplotype_summaries(pos, ref_len, alt_offsets, calls, offsets, np.array([win]), span, counts, out, 0, 1)
    return int(out[0, 0])


@settings(max_examples=300, deadline=None)
@given(cases())
def test_kernel_matches_reference(case) -> None:
    ref, origin, calls, win, length = case
    ref_arr = np.frombuffer(ref.encode(), np.uint8).copy()
    pos = np.array([c[0] for c in calls], np.int64)
    ref_len = np.array([len(c[1]) for c in calls], np.int32)
    alts = [c[2].encode() for c in calls]
    alt_offsets = np.concatenate([[0], np.cumsum([len(a) for a in alts])]).astype(np.int64)
    alt = np.frombuffer(b"".join(alts), np.uint8).copy() if alts else np.zeros(0, np.uint8)
    # one track: value = 1 + index in the reference buffer, one interval per base
    starts = np.arange(origin, origin + len(ref), dtype=np.int64)
    values = (np.arange(len(ref)) + 1).astype(np.float32)
    seq, coords = apply_calls(ref, origin, calls, win, length)
    expected = np.array([c - origin + 1 if 0 <= c - origin < len(ref) else 0 for c in coords], np.float32)
    _, _, v_of_base = apply_calls_annotated(ref, origin, calls, win, length)
    for skip in (0, 3):
        out, tracks, ann_var, ann_pos = _run_reconstruct(
            ref_arr, origin, pos, ref_len, alt_offsets, alt, starts, values, win, length, skip
        )
        full, _ = apply_calls(ref, origin, calls, win, length + skip)
        assert out.tobytes().decode() == full[skip:]
        if skip == 0:
            assert out.tobytes().decode() == seq
            np.testing.assert_array_equal(tracks, expected)
            np.testing.assert_array_equal(ann_pos, [c if c >= 0 else -1 for c in coords])
            np.testing.assert_array_equal(ann_var, v_of_base)
    # the haplotype's length over [win, win + span) is where its reference coordinates pass the span
    span = max(1, length // 2)
    n = haplotype_lengths_one(pos, ref_len, alt_offsets, win, span)
    _, long_coords = apply_calls(ref, origin, calls, win, n + 40)
    assert all(c < win + span for c in long_coords[:n])
    assert n == len(long_coords) or long_coords[n] >= win + span
    ref_out = np.empty((1, length), np.uint8)
    reference_windows(
        ref_arr,
        np.array([[0, len(ref)]], np.int64),
        np.array([origin], np.int64),
        np.array([0], np.int64),
        np.array([win], np.int64),
        ref_out,
        0,
        1,
    )
    assert ref_out[0].tobytes().decode() == apply_calls(ref, origin, [], win, length)[0]


def test_kernel_crc32c_equals_google_crc32c() -> None:
    import google_crc32c

    from gvl_zarr._kernels.crc32c import TABLES, _has_sse42, crc32c_sse42, crc32c_table, first_bad_chunk

    rng = np.random.default_rng(2)
    kernels = [crc32c_table, crc32c_sse42] if _has_sse42() else [crc32c_table]
    for n in (0, 1, 7, 8, 9, 4096, 8195):
        buf = rng.integers(0, 256, n + 5).astype(np.uint8)
        for kernel in kernels:
            assert kernel(buf, 3, n, TABLES) == google_crc32c.value(buf[3 : 3 + n].tobytes()), (kernel, n)
    body = 64
    chunks = [rng.integers(0, 256, body).astype(np.uint8) for _ in range(3)]
    blob = b"".join(c.tobytes() + google_crc32c.value(c.tobytes()).to_bytes(4, "little") for c in chunks)
    buf = np.frombuffer(blob, np.uint8).copy()
    offs = np.arange(3, dtype=np.int64) * (body + 4)
    ids = np.arange(3, dtype=np.int64)
    assert first_bad_chunk(buf, offs, body, ids, TABLES) == -1
    buf[offs[1] + 5] ^= 1
    assert first_bad_chunk(buf, offs, body, ids, TABLES) == 1


def test_prepare_refreshes_numba_under_the_compiler_lock(monkeypatch) -> None:
    """`Dataset.open` refreshes numba's registries while its background thread may be loading
    kernels, whose compile path refreshes them too; two refreshes at once failed inside numba
    ("ValueError: generator already executing"), so `prepare` must hold the compiler lock."""
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.registry import cpu_target

    from gvl_zarr._kernels import prepare

    held: list[bool] = []
    typing = cpu_target.typing_context
    original = typing.refresh

    def refresh() -> None:
        held.append(global_compiler_lock.is_locked())
        original()

    monkeypatch.setattr(typing, "refresh", refresh)
    prepare()
    assert held and all(held)
