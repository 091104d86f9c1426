"""Notebook tools: the verdict recorder, the ``%%sentinel`` magics and the interactive explorer.

Everything here imports pandas / IPython / ipywidgets lazily or on import of the submodule; the core
package never imports this one.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Recorder", "default_recorder", "explore", "record", "style", "to_frame", "verdicts_frame"]


def __getattr__(name: str) -> Any:
    if name in ("Recorder", "default_recorder", "record", "style", "to_frame", "verdicts_frame"):
        from sentinel_lab.lab import recorder as _rec

        return getattr(_rec, name)
    if name == "explore":
        from sentinel_lab.lab.explorer import explore

        return explore
    raise AttributeError(name)
