"""``Text``: one normalised string leaf of a call's arguments, the unit every view and check reads.

Kept apart from ``sentinel_lab._analysis`` so the views can import it at run time without a cycle (their records
name it in fields).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Text"]


@dataclass(slots=True)
class Text:
    """One string leaf of the arguments (or a dict key), normalised.

    ``path`` locates it (``files[0].name``); ``key`` is the nearest dict key, lower-cased (``""`` in a list);
    ``norm`` is NFKC without invisible characters; ``folded`` is ``norm`` lower-cased with look-alike letters
    folded; ``variants`` is ``(norm, *decoded readings)``, so a check that scans ``variants`` sees through
    percent, HTML, base64, hex and rot13 disguises.
    """

    path: str
    key: str
    raw: str
    norm: str
    folded: str
    variants: tuple[str, ...]
    is_key: bool = False

    @property
    def decoded(self) -> tuple[str, ...]:
        """The decoded readings only (without ``norm``)."""
        return self.variants[1:]
