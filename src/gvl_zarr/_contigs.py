"""Matching contig names between inputs (`chr22` vs `22`)."""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ContigMismatchError


def _alternatives(name: str) -> list[str]:
    if name.startswith("chr"):
        stripped = name[3:]
        alts = [stripped]
        if stripped == "M":
            alts.append("MT")
        return alts
    alts = [f"chr{name}"]
    if name == "MT":
        alts.append("chrM")
    return alts


def match_contig(name: str, available: Iterable[str]) -> str | None:
    """Return the name in `available` that means `name`: itself, else with/without `chr`."""
    available = set(available)
    if name in available:
        return name
    for alt in _alternatives(name):
        if alt in available:
            return alt
    return None


def require_contig(name: str, available: Iterable[str], *, file: str, what: str) -> str:
    """Like `match_contig` but raise a `ContigMismatchError` naming the file when absent."""
    available = list(available)
    found = match_contig(name, available)
    if found is None:
        shown = ", ".join(available[:10]) + (" …" if len(available) > 10 else "")
        raise ContigMismatchError(
            f"{what} contig {name!r} is not in {file} (contigs there: {shown}); "
            f"'chr' prefixes are matched automatically, so the inputs use different names "
            f"or builds. Fix: rename the contigs of one file so they agree."
        )
    return found
