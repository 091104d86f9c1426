"""Tab completion for ``%sentinel`` and ``%%sentinel``: subcommands, options, policy paths and session names.

Registered as an IPython completion matcher (API v2) that answers only on a ``%sentinel`` line (or the first
line of a ``%%sentinel`` cell) and then suppresses the other matchers, so Python builtins, unrelated magics and
attribute names never show up there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["OPTIONS", "SUBCOMMANDS", "candidates", "make_matcher"]

#: Line-magic subcommands.
SUBCOMMANDS: tuple[str, ...] = ("policy", "status", "log", "reset", "stop", "help")
#: Options and what their value is (None: a flag without a value).
OPTIONS: dict[str, str | None] = {
    "--policy": "policy",
    "-p": "policy",
    "--compare": "policy",
    "--upstream": "command",
    "-u": "command",
    "--session": "session",
    "-s": "session",
    "--output": "name",
    "-o": "name",
    "--quiet": None,
    "-q": None,
    "--timeout": "number",
    "-t": "number",
    "--expect": "decisions",
    "--blocked": None,
    "--to": "file",
    "--plot": None,
}
_CELL_OPTIONS = ("--policy", "--compare", "--upstream", "--session", "--output", "--quiet", "--timeout", "--expect")
_LOG_OPTIONS = ("--blocked", "--session", "--to", "--plot", "--output", "--quiet")
_DECISIONS = ("allow", "block", "flag")


def _paths(prefix: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files ending in ``suffixes`` and folders that start with ``prefix`` (relative to the working folder)."""
    folder, start = os.path.split(os.path.expanduser(prefix))
    shown_folder = os.path.split(prefix)[0]
    try:
        entries = sorted(os.listdir(folder or "."))
    except OSError:
        return []
    out = []
    for name in entries:
        if not name.startswith(start) or (name.startswith(".") and not start.startswith(".")):
            continue
        full = os.path.join(folder or ".", name)
        shown = os.path.join(shown_folder, name) if shown_folder else name
        if os.path.isdir(full):
            out.append(shown + "/")
        elif name.endswith(suffixes):
            out.append(shown)
    return out


def candidates(line: str, sessions: Iterable[str] = (), *, cell: bool = False) -> tuple[str, list[str]]:
    """What may follow ``line`` (the text before the cursor): ``(fragment being completed, completions)``."""
    words = line.split()
    fragment = "" if line.endswith((" ", "\t")) or not words else words[-1]
    before = words[:-1] if fragment else words
    args = before[1:]  # without the magic's own name
    previous = args[-1] if args else ""
    kind = OPTIONS.get(previous)
    if kind == "policy":
        return fragment, _paths(fragment, (".yaml", ".yml"))
    if kind == "session":
        return fragment, sorted({s for s in sessions if s.startswith(fragment)})
    if kind == "file":
        return fragment, _paths(fragment, (".csv", ".jsonl"))
    if kind == "decisions":
        done, _, last = fragment.rpartition(",")
        head = f"{done}," if done else ""
        return fragment, [head + d for d in _DECISIONS if d.startswith(last)]
    if kind is not None:
        return fragment, []  # a command, a name or a number: nothing sensible to offer
    command = next((a for a in args if not a.startswith("-")), None)
    if cell:
        if command is None and not fragment.startswith("-") and not args:
            pool = ["policy", *_CELL_OPTIONS]
        else:
            pool = list(_CELL_OPTIONS)
    elif command is None and not fragment.startswith("-"):
        pool = list(SUBCOMMANDS)
    elif command == "policy":
        if not fragment.startswith("-") and len([a for a in args if not a.startswith("-")]) == 1:
            return fragment, _paths(fragment, (".yaml", ".yml"))
        pool = []
    elif command == "log" or command is None:
        pool = list(_LOG_OPTIONS)
    elif command == "reset":
        if not fragment.startswith("-"):
            return fragment, sorted({s for s in sessions if s.startswith(fragment)})
        pool = ["--session"]
    else:
        pool = []
    used = set(args)
    return fragment, [p for p in pool if p.startswith(fragment) and p not in used]


def make_matcher(sessions: Callable[[], Iterable[str]]) -> Callable[[Any], Any]:
    """An IPython v2 matcher completing ``%sentinel`` lines; ``sessions()`` lists the known session names."""
    from IPython.core.completer import SimpleCompletion, context_matcher

    @context_matcher(priority=100, identifier="sentinel_lab.magic")  # type: ignore[untyped-decorator]
    def sentinel_matcher(context: Any) -> Any:
        line = context.text_until_cursor
        stripped = line.lstrip()
        cell = stripped.startswith("%%sentinel")
        if not (cell or stripped.startswith("%sentinel")) or (cell and context.cursor_line != 0):
            return {"completions": [], "suppress": False}
        first = stripped.split(maxsplit=1)[0] if stripped.split() else ""
        if first not in ("%sentinel", "%%sentinel") or stripped == first:
            return {"completions": [], "suppress": False}  # still typing the magic's name
        fragment, found = candidates(stripped, sessions(), cell=cell)
        return {
            "completions": [SimpleCompletion(text, type="sentinel") for text in found],
            "matched_fragment": fragment,
            "suppress": True,
        }

    return sentinel_matcher  # type: ignore[no-any-return]
