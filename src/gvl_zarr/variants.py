"""`RaggedVariants`: the ALT alleles each haplotype carries in its window.

GenVarLoader's "variants" output kind. Vectorised over the batch's calls (no per-instance
Python): calls are gathered as the haplotype read gathers them, kept where the variant
overlaps [window start, + region_length) (and its stored AF is within min_af/max_af), and
wrapped as `Ragged` rows per haplotype, with the variant fields asked for (`var_fields`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._chunks import range_index
from ._rows import reverse_rows
from .errors import SettingsError
from .ragged import Ragged

if TYPE_CHECKING:
    from ._query import StoreData
    from ._settings import Settings


@dataclass(frozen=True)
class RaggedVariants:
    """Variants of each haplotype, rows of shape (batch, ploidy) in position order.

    start: int32 0-based POS; ilen: int32 len(ALT) - len(REF); var_idxs: int32 rows of the
    store's variant table; alt: `Ragged` of `S1` with one row per variant, in the order of
    start.data (all haplotypes back to back). `ref` (when "ref" is in var_fields) is laid
    out as `alt`. `extra` holds the other requested fields ("dosage", INFO IDs such as
    "AF"), each laid out as `start`; `rv["AF"]` / `rv.dosage` read them by name.
    """

    start: Ragged
    ilen: Ragged
    var_idxs: Ragged
    alt: Ragged
    ref: Ragged | None = None
    extra: dict[str, Ragged] = field(default_factory=dict)
    ref_len: np.ndarray | None = field(default=None, repr=False)  # len(REF) per variant, as start.data

    @property
    def shape(self) -> tuple[int, ...]:
        return self.start.shape

    @property
    def fields(self) -> list[str]:
        """Names of the fields present, GenVarLoader's order (alt, start, ref, ilen, …)."""
        return ["alt", "start", *(["ref"] if self.ref is not None else []), "ilen", *self.extra]

    def __getitem__(self, name: str) -> Ragged:
        """A field by name ("alt", "start", "ref", "ilen", "dosage", "AF", …)."""
        if name in ("alt", "start", "ilen", "var_idxs") or (name == "ref" and self.ref is not None):
            return getattr(self, name)
        if name in self.extra:
            return self.extra[name]
        raise KeyError(f"RaggedVariants has no field {name!r}; it has {self.fields}. Ask for it with var_fields=.")

    @property
    def dosage(self) -> Ragged:
        """Per-call dosages (`var_fields` must include "dosage")."""
        return self["dosage"]

    @property
    def end(self) -> Ragged:
        """0-based exclusive end of each variant's REF: start + len(REF) (GenVarLoader's
        `end` when "ref" is asked for; without it GenVarLoader assumes atomised variants)."""
        return Ragged.from_offsets(
            (self.start.data + self._ref_lengths()).astype(np.int32), self.shape, self.start.offsets
        )

    def pad(
        self, allele: str | bytes = b"N", ilen: int = 0, start: int = -1, dosage: float = 0.0, **pad_values: float
    ) -> RaggedVariants:
        """A copy where every haplotype without variants holds one placeholder variant
        (GenVarLoader 0.43.1's `pad`): `allele` as its ALT (and REF), the given ilen, start
        and dosage, var_idxs -1, and `pad_values[name]` for other fields (each needed)."""
        if isinstance(allele, str):
            allele = allele.encode()
        values: dict[str, float] = {"dosage": dosage, **pad_values}
        missing = [name for name in self.extra if name not in values]
        if missing:
            raise ValueError(f"pad values missing for fields {missing}; pass them as keywords, e.g. pad(AF=0.0).")
        empty = np.diff(self.start.offsets) == 0
        counts = np.diff(self.start.offsets) + empty
        offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        # new position of every existing variant, and of every placeholder
        old_pos = np.arange(len(self.start.data)) + np.repeat(np.cumsum(empty) - empty, np.diff(self.start.offsets))
        new_pos = offsets[:-1][empty]

        def numeric(r: Ragged, fill: float) -> Ragged:
            data = np.empty(offsets[-1], r.data.dtype)
            data[old_pos] = r.data[: len(old_pos)]
            data[new_pos] = fill
            return Ragged.from_offsets(data, self.shape, offsets)

        def alleles(r: Ragged) -> Ragged:
            lengths = np.empty(offsets[-1], np.int64)
            lengths[old_pos] = np.diff(r.offsets)
            lengths[new_pos] = len(allele)
            a_off = np.zeros(len(lengths) + 1, np.int64)
            np.cumsum(lengths, out=a_off[1:])
            data = np.empty(a_off[-1], "S1")
            data[range_index(a_off[:-1][old_pos], lengths[old_pos])] = r.data[: r.offsets[-1]]
            data[range_index(a_off[:-1][new_pos], lengths[new_pos])] = np.tile(
                np.frombuffer(allele, "S1"), len(new_pos)
            )
            return Ragged.from_offsets(data, len(lengths), a_off)

        return RaggedVariants(
            start=numeric(self.start, start),
            ilen=numeric(self.ilen, ilen),
            var_idxs=numeric(self.var_idxs, -1),
            alt=alleles(self.alt),
            ref=alleles(self.ref) if self.ref is not None else None,
            extra={name: numeric(r, values[name]) for name, r in self.extra.items()},
            ref_len=numeric(Ragged.from_offsets(self._ref_lengths(), self.shape, self.start.offsets), len(allele)).data,
        )

    def rc_(self, to_rc: np.ndarray | None = None) -> RaggedVariants:
        """A copy with the ALT (and REF) alleles of batch entries `to_rc` (bool per entry of
        the first axis; default all) reverse-complemented, as GenVarLoader 0.43.1's `rc_`."""
        n = self.shape[0]
        mask = np.ones(n, bool) if to_rc is None else np.asarray(to_rc, bool).reshape(n)
        per_row = np.repeat(mask, int(np.prod(self.shape[1:])))
        per_variant = np.repeat(per_row, np.diff(self.start.offsets))

        def flipped(r: Ragged) -> Ragged:
            data = r.data.copy()
            lengths = np.diff(r.offsets)
            reverse_rows(data.view(np.uint8), r.offsets[:-1][per_variant], lengths[per_variant], complement=True)
            return Ragged.from_offsets(data, r.shape, r.offsets)

        return dataclasses.replace(self, alt=flipped(self.alt), ref=flipped(self.ref) if self.ref is not None else None)

    def to_nested_tensor_batch(self, device: Any = "cpu", tokenizer: Any = None) -> dict[str, Any]:
        """The fields as torch nested tensors, as GenVarLoader 0.43.1: numeric fields
        (start, ilen, dosage, …) of shape (batch * ploidy, ~variants), alleles (alt, ref) of
        shape (variants, ~length), plus "max_n_vars" and "max_<allele>_len". tokenizer: None
        (ASCII codes), "seqpro" (A, C, G, T → 0-3, others 4) or a callable on the `S1` bytes."""
        from .torch_loader import to_nested_tensor

        batch: dict[str, Any] = {"max_n_vars": int(np.diff(self.start.offsets).max(initial=0))}
        for name in self.fields:
            r = self[name]
            if name in ("alt", "ref"):
                batch[f"max_{name}_len"] = int(np.diff(r.offsets).max(initial=0))
                if tokenizer is not None:
                    codes = _seqpro_tokens(r.data) if tokenizer == "seqpro" else np.asarray(tokenizer(r.data))
                    r = Ragged.from_offsets(codes, r.shape, r.offsets)
            flat = Ragged.from_offsets(r.data, int(np.prod(r.shape)), r.offsets)
            batch[name] = to_nested_tensor(flat).to(device)
        return batch

    def _ref_lengths(self) -> np.ndarray:
        return self.ref_len if self.ref_len is not None else np.diff(self.ref.offsets)  # type: ignore[union-attr]


_SEQPRO = np.full(256, 4, np.uint8)
_SEQPRO[np.frombuffer(b"ACGT", np.uint8)] = np.arange(4)


def _seqpro_tokens(data: np.ndarray) -> np.ndarray:
    """seqpro's DNA tokens (A, C, G, T → 0-3, anything else 4), as GenVarLoader uses them."""
    return _SEQPRO[data.view(np.uint8)]


def read_variants(
    data: StoreData,
    regions: np.ndarray,
    samples: np.ndarray,
    win_starts: np.ndarray,
    shape: tuple[int, ...],
    settings: Settings,
    win_ends: np.ndarray | None = None,
) -> RaggedVariants:
    """Variants of the batch's haplotypes overlapping each window (GenVarLoader 0.43.1's
    rule: POS < window end and POS + len(REF) > window start; the window ends at win_ends,
    default window start + region_length), then those with min_af <=
    AF <= max_af when a bound is set (rows of shape (batch, 1) with unphased_union). With
    rc_neg, ALT (and REF) alleles of '-' strand regions are reverse-complemented (their order
    and starts are kept), as GenVarLoader does."""
    from ._query import _variant_batch

    v_pos, v_ref_len, alt_offsets, alt, calls, call_offsets, v_ids = _variant_batch(data, regions, samples)
    n, ploidy = call_offsets.shape[:2]
    lo = call_offsets[..., 0].ravel()
    lengths = call_offsets[..., 1].ravel() - lo
    call_idx = range_index(lo, lengths)  # positions in `calls` of every call, haplotype by haplotype
    rows = calls[call_idx].astype(np.int64)
    hap = np.repeat(np.arange(n * ploidy), lengths)
    ws = np.repeat(win_starts, ploidy)[hap]
    pos = v_pos[rows].astype(np.int64)
    we = ws + data.length if win_ends is None else np.repeat(win_ends, ploidy)[hap]
    keep = (pos < we) & (pos + v_ref_len[rows] > ws)
    ids = v_ids[rows] if len(v_ids) else rows  # stored variant rows
    if settings.min_af is not None or settings.max_af is not None:
        af = data.var_fields["AF"].take(ids[keep])
        ok = np.ones(len(af), bool)  # NaN (missing AF) fails both bounds, as in GenVarLoader
        if settings.min_af is not None:
            ok &= af >= settings.min_af
        if settings.max_af is not None:
            ok &= af <= settings.max_af
        keep[np.flatnonzero(keep)[~ok]] = False
    rows, hap, ids = rows[keep], hap[keep], ids[keep]
    counts = np.bincount(hap, minlength=n * ploidy)
    offsets = np.zeros(n * ploidy + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    lead = (*shape, ploidy)
    if settings.unphased_union:  # GenVarLoader's fold: one row per instance, haplotype 0's calls then 1's
        offsets, lead = np.ascontiguousarray(offsets[::ploidy]), (*shape, 1)
    neg_hap = None
    if settings.rc_neg:
        neg_hap = np.repeat(data.r_strand[regions] == -1, ploidy)[hap]
        if not neg_hap.any():
            neg_hap = None
    a_lo, a_len = alt_offsets[rows], alt_offsets[rows + 1] - alt_offsets[rows]
    alt_rag = _alleles(alt[range_index(a_lo, a_len)], None, a_len, neg_hap)
    rag = lambda values: Ragged.from_offsets(values, lead, offsets)  # noqa: E731
    ref_rag = None
    extra: dict[str, Ragged] = {}
    for name in settings.var_fields:
        if name in ("alt", "ilen", "start"):
            continue
        if name == "ref":
            bounds = data.v_ref_offsets.take(np.stack([ids, ids + 1]))
            ref_bytes, r_lo = data.v_ref.ranges(bounds[0], bounds[1])
            ref_rag = _alleles(ref_bytes, r_lo, bounds[1] - bounds[0], neg_hap)
        elif name not in data.var_fields:
            raise SettingsError(f"{data.name} has no variant field {name!r}.")
        elif data.var_field_sources[name] == "FORMAT":  # one value per call
            stored_lo = data.call_offsets.take(regions, samples)[..., 0].ravel()
            within = call_idx - np.repeat(lo, lengths)
            global_calls = (np.repeat(stored_lo, lengths) + within)[keep]
            extra[name] = rag(data.var_fields[name].take(global_calls))
        else:
            extra[name] = rag(data.var_fields[name].take(ids))
    return RaggedVariants(
        start=rag(v_pos[rows].astype(np.int32)),
        ilen=rag((a_len - v_ref_len[rows]).astype(np.int32)),
        var_idxs=rag(ids.astype(np.int32)),
        alt=alt_rag,
        ref=ref_rag,
        extra=extra,
        ref_len=v_ref_len[rows].astype(np.int32),
    )


def _alleles(buf: np.ndarray, lo: np.ndarray | None, length: np.ndarray, neg: np.ndarray | None) -> Ragged:
    """One `S1` row per variant from rows buf[lo[i]:lo[i] + length[i]] (lo None: buf is
    already those rows back to back), reverse-complemented where `neg`."""
    data = (buf if lo is None else buf[range_index(lo, length)]).view("S1").copy()
    off = np.zeros(len(length) + 1, np.int64)
    np.cumsum(length, out=off[1:])
    if neg is not None:
        reverse_rows(data.view(np.uint8), off[:-1][neg], length[neg], complement=True)
    return Ragged.from_offsets(data, len(length), off)


def join_exons(rv: RaggedVariants, n_exons: np.ndarray, shape: tuple[int, ...]) -> RaggedVariants:
    """Variants of consecutive exon rows joined per transcript: `rv` has rows (exon, ploid)
    with each transcript's exons consecutive and in exon order (`n_exons` per transcript);
    the result has rows (*shape, ploid), each exon's variants after the previous exon's, as
    GenVarLoader 0.43.1's spliced "variants" output."""
    ploidy = rv.shape[-1]
    n_rows = len(rv.start.offsets) - 1
    inst = np.repeat(np.repeat(np.arange(len(n_exons)), n_exons), ploidy)  # transcript of every row
    p = np.tile(np.arange(ploidy), n_rows // ploidy if ploidy else 0)
    order = np.lexsort((np.arange(n_rows), p, inst))  # rows by (transcript, ploid, exon)
    lengths = np.diff(rv.start.offsets)
    variants = range_index(rv.start.offsets[:-1][order], lengths[order])
    counts = np.bincount((inst * ploidy + p)[order], weights=lengths[order], minlength=len(n_exons) * ploidy)
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts.astype(np.int64), out=offsets[1:])
    lead = (*shape, ploidy)

    def rows(r: Ragged) -> Ragged:
        return Ragged.from_offsets(r.data[variants], lead, offsets)

    def alleles(r: Ragged) -> Ragged:
        a_len = np.diff(r.offsets)[variants]
        a_off = np.zeros(len(variants) + 1, np.int64)
        np.cumsum(a_len, out=a_off[1:])
        return Ragged.from_offsets(r.data[range_index(r.offsets[:-1][variants], a_len)], len(variants), a_off)

    return RaggedVariants(
        start=rows(rv.start),
        ilen=rows(rv.ilen),
        var_idxs=rows(rv.var_idxs),
        alt=alleles(rv.alt),
        ref=alleles(rv.ref) if rv.ref is not None else None,
        extra={name: rows(r) for name, r in rv.extra.items()},
        ref_len=rv.ref_len[variants] if rv.ref_len is not None else None,
    )
