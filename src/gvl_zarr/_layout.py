"""Where each haplotype and track row of a batch goes in the flat output arrays.

Three output lengths share one kernel (`_kernels.haplotypes.reconstruct`), which writes
haplotype (b, p) to out[hap_starts[b, p]:][:hap_lengths[b, p]] and its track t to
tracks[trk_starts[b, t, p]:]:

- an int L: every row is L long, laid out as (B, P, L) and (B, T, P, L) arrays;
- "variable": rows keep their true lengths inside (B, P, W) / (B, T, P, W) arrays, W the
  batch's longest haplotype, padded with N / 0 (as GenVarLoader 0.43.1's `pad`);
- "ragged": rows are packed back to back, haplotypes in (b, p) order and tracks in
  (b, t, p) order, with offsets for `Ragged`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BASE = 78


@dataclass
class Layout:
    hap_starts: np.ndarray  # (B, P) int64
    hap_lengths: np.ndarray  # (B, P) int64
    trk_starts: np.ndarray  # (B, T, P) int64
    width: int | None  # row width of a rectangular layout; None when ragged
    hap_size: int
    trk_size: int

    def allocate(self, n_tracks: int, annotate: bool) -> tuple[np.ndarray, ...]:
        """(haplotypes, tracks, variant ids, reference coordinates) flat buffers; padded
        layouts start filled with N / 0 / -1.

        All four are views of one allocation. Separate multi-MB arrays came fresh from the OS
        every batch (glibc returns the heap top once two large blocks are freed together),
        so each batch page-faulted them in: 7.1 ms for two 4 MiB int32 arrays and a 1 MiB
        one, against 0.18 ms for re-used memory (annotated 32 x 16 kb batches: 10 ms a
        batch in the kernel). One block per batch is re-used from the heap."""
        ann = self.hap_size if annotate else 0
        sizes = (self.hap_size, 4 * self.trk_size, 4 * ann, 4 * ann)
        starts = np.cumsum((0, *(-(-n // 64) * 64 for n in sizes)))  # 64-byte aligned
        block = np.empty(int(starts[-1]), np.uint8)
        haps, tracks, ann_var, ann_pos = (
            block[a : a + n].view(dt)
            for a, n, dt in zip(starts[:-1], sizes, (np.uint8, np.float32, np.int32, np.int32), strict=True)
        )
        if self.width is not None and bool((self.hap_lengths != self.width).any()):  # padded
            haps.fill(N_BASE)
            tracks.fill(0)
            ann_var.fill(-1)
            ann_pos.fill(-1)
        return haps, tracks, ann_var, ann_pos


def fixed(n: int, ploidy: int, n_tracks: int, width: int, lengths: np.ndarray | None = None) -> Layout:
    """Rectangular (B, P, width) layout; rows `lengths` long (default: width)."""
    rows = np.arange(n * ploidy, dtype=np.int64).reshape(n, ploidy)
    trk_rows = np.arange(n * n_tracks * ploidy, dtype=np.int64).reshape(n, n_tracks, ploidy)
    hap_lengths = np.full((n, ploidy), width, np.int64) if lengths is None else lengths.astype(np.int64)
    return Layout(rows * width, hap_lengths, trk_rows * width, width, n * ploidy * width, n * n_tracks * ploidy * width)


def ragged(lengths: np.ndarray, n_tracks: int) -> Layout:
    """Packed layout of rows `lengths` (B, P) long."""
    n, ploidy = lengths.shape
    lengths = lengths.astype(np.int64)
    hap_off = np.zeros(lengths.size + 1, np.int64)
    np.cumsum(lengths.ravel(), out=hap_off[1:])
    trk_len = np.broadcast_to(lengths[:, None, :], (n, n_tracks, ploidy))
    trk_off = np.zeros(trk_len.size + 1, np.int64)
    np.cumsum(trk_len.ravel(), out=trk_off[1:])
    return Layout(
        hap_off[:-1].reshape(n, ploidy),
        lengths,
        trk_off[:-1].reshape(n, n_tracks, ploidy),
        None,
        int(hap_off[-1]),
        int(trk_off[-1]),
    )
