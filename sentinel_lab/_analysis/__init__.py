"""The shared analysis of one action, computed once per call and read by every check.

``analyse(tool, args)`` walks the arguments at any depth (dicts, lists, JSON inside strings), normalises every
string once (see ``_normalize``) and exposes parsed views that are computed lazily on first use and cached:
``endpoints`` (URLs and hosts, ``_urls``), ``paths`` (``_paths``), ``commands`` (shell, ``_shell``) and ``code``
(programs sent to interpreters, analysed as code, ``_code``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The views read ``Analysis`` for typing only, so importing them here makes no cycle at run time; ``Text`` lives in
# its own module, which the views import at run time (their records name it in fields).
from sentinel_lab._analysis._code import CodeText, code_texts_of
from sentinel_lab._analysis._paths import PathRef, paths_of
from sentinel_lab._analysis._shell import Command, code_commands, parse_commands
from sentinel_lab._analysis._texts import Text
from sentinel_lab._analysis._urls import Endpoint, endpoints_of
from sentinel_lab._text.normalize import (
    _MIN_ENCODED,
    JSONTooDeep,
    decode_layers,
    fold,
    has_high,
    loads_json,
    normalize,
)
from sentinel_lab._text.normalize import normalize as _normalize_text

__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_TEXTS", "Analysis", "Text", "analyse", "fold", "normalize"]

MAX_DEPTH = 64  # deeper nesting, or more strings, sets Analysis.truncated and the verifier fails closed
MAX_TEXTS = 50_000
MAX_NODES = 200_000  # values visited (containers and scalars alike): bounds wide cycles and shared sub-lists


@dataclass(slots=True)
class Analysis:
    """Everything the checks need to know about one action; parsed views are lazy and cached."""

    tool: str
    tool_key: str
    args: dict[str, Any]
    texts: list[Text]
    truncated: bool = False
    #: why ``truncated`` is set: "nest deeper than 64 levels", "hold over 50000 strings", ...
    cut_reason: str = ""
    #: the project directory relative paths anchor at (absolute POSIX), or None: every path judged on its own
    workspace: str | None = None
    _endpoints: list[Endpoint] | None = field(default=None, repr=False)
    _paths: list[PathRef] | None = field(default=None, repr=False)
    _commands: list[Command] | None = field(default=None, repr=False)
    _parsed: list[Command] | None = field(default=None, repr=False)
    _shell_truncated: bool = field(default=False, repr=False)
    _code: tuple[CodeText, ...] | None = field(default=None, repr=False)

    @property
    def endpoints(self) -> list[Endpoint]:
        """URLs and hosts found in any text (see ``_urls.endpoints_of``)."""
        found = self._endpoints
        if found is None:
            found = self._endpoints = endpoints_of(self)
        return found

    @property
    def paths(self) -> list[PathRef]:
        """File-system paths found in the arguments, judged against ``workspace`` (see ``_paths.paths_of``)."""
        found = self._paths
        if found is None:
            found = self._paths = paths_of(self, self.workspace)
        return found

    @property
    def parsed_commands(self) -> list[Command]:
        """Shell commands parsed from the command-like arguments themselves (see ``_shell.parse_commands``)."""
        found = self._parsed
        if found is None:
            found, self._shell_truncated = parse_commands(self)
            self._parsed = found
        return found

    @property
    def commands(self) -> list[Command]:
        """Every shell command of the call: ``parsed_commands`` and the command lines that JavaScript and
        PowerShell code in it starts (see ``_shell.code_commands``)."""
        found = self._commands
        if found is None:
            found = self.parsed_commands
            code = self.code
            if code:
                extra, cut = code_commands(code, found)
                if extra:
                    found = found + extra
                self._shell_truncated = self._shell_truncated or cut
            self._commands = found
        return found

    @property
    def shell_truncated(self) -> bool:
        """True when a command text was too large or complex to parse completely (checks then fail closed)."""
        if self._commands is None:
            self.commands  # noqa: B018 - computing the view sets the flag
        return self._shell_truncated

    @property
    def code(self) -> tuple[CodeText, ...]:
        """Code the call runs, analysed as code: code arguments, interpreter tools' arguments and inline code of
        shell commands (see ``_code.code_texts_of``); only code-bearing texts are parsed."""
        found = self._code
        if found is None:
            found = self._code = tuple(code_texts_of(self))
        return found

    def all_variants(self) -> list[tuple[Text, str]]:
        """Every (text, reading) pair: each text's normal form and each decoded reading."""
        return [(t, v) for t in self.texts for v in t.variants]


def _make_text(path: str, key: str, raw: str, is_key: bool = False, raw_only: bool = False) -> Text:
    if raw_only:  # ablation: no normalisation, no decoding
        return Text(path, key, raw, raw, raw.lower(), (raw,), is_key)
    if raw.isascii():  # the common case: NFKC and the confusable fold leave ASCII unchanged
        if len(raw) < _MIN_ENCODED and "%" not in raw and "&" not in raw and "\\" not in raw:
            return Text(path, key, raw, raw, raw.lower(), (raw,), is_key)
        extra = decode_layers(raw)
        return Text(path, key, raw, raw, raw.lower(), (raw, *extra) if extra else (raw,), is_key)
    norm = normalize(raw)
    # Tag characters are dropped from ``norm``; decoding the raw text surfaces what they spell.
    extra = decode_layers(raw if has_high(raw) else norm)
    if extra and norm in extra:
        extra.remove(norm)
    return Text(path, key, raw, norm, fold(norm), (norm, *extra) if extra else (norm,), is_key)


def _key_text(k: Any) -> str:
    """A dict key as text; a key whose ``str()`` fails (a 5000-digit int, a hostile object) gets a placeholder."""
    if type(k) is str:
        return k
    try:
        return str(k)
    except Exception:
        return f"<{type(k).__name__} key>"


def _walk(args: Any, out: list[Text], raw_only: bool = False) -> str:
    """Collect string leaves depth first, in document order, without recursion.

    Returns why the walk stopped early ("" when it saw everything): too deep, too many strings, too many
    values (a wide cycle or a shared sub-list repeated would otherwise be walked exponentially often), or JSON
    inside a string that nests too deeply to decode.
    """
    cut = ""
    nodes = 0
    # tasks: (value, path, key, depth) for a value to walk, or (text, path, key, -1) for a dict key's text
    stack: list[tuple[Any, str, str, int]] = [(args, "", "", 0)]
    pop, push = stack.pop, stack.append
    while stack:
        value, path, key, depth = pop()
        if depth < 0:  # a dict key
            if len(out) >= MAX_TEXTS:
                cut = cut or f"hold over {MAX_TEXTS} strings"
                continue
            out.append(_make_text(path, key, value, True, raw_only))
            continue
        nodes += 1
        if nodes > MAX_NODES:
            cut = cut or f"hold over {MAX_NODES} values"
            break
        if depth > MAX_DEPTH:
            cut = cut or f"nest deeper than {MAX_DEPTH} levels"
            continue
        if len(out) >= MAX_TEXTS:
            cut = cut or f"hold over {MAX_TEXTS} strings"
            continue
        tp = type(value)
        if tp is str or (tp is not dict and tp is not list and isinstance(value, str)):
            out.append(_make_text(path, key, value, False, raw_only))
            # JSON inside a string: only when, stripped, it starts with { or [ and ends with } or ]
            if len(value) >= 2 and (value[0] in "{[" or value[0].isspace()):
                stripped = value.strip()
                if len(stripped) >= 2 and stripped[0] in "{[" and stripped[-1] in "}]":
                    try:
                        inner = loads_json(stripped)
                    except JSONTooDeep:
                        cut = cut or "hold JSON text nested too deeply to decode"
                        continue
                    except ValueError:
                        continue
                    if isinstance(inner, (dict, list)):
                        push((inner, path + "<json>", key, depth + 1))
            continue
        if tp is dict or (tp is not list and isinstance(value, Mapping)):
            depth += 1
            tasks: list[tuple[Any, str, str, int]] = []
            for k, v in value.items():
                ks = _key_text(k)
                sub = f"{path}.{ks}" if path else ks
                kl = ks.lower()
                if len(ks) > 24 or not ks.isidentifier():
                    tasks.append((ks, sub, kl, -1))
                tasks.append((v, sub, kl, depth))
                if len(tasks) > MAX_NODES:
                    break
            tasks.reverse()
            stack.extend(tasks)
        elif tp is list or isinstance(value, (list, tuple)):
            if len(value) > MAX_NODES:
                cut = cut or f"hold over {MAX_NODES} values"
                value = value[:MAX_NODES]
            stack.extend([(v, f"{path}[{i}]", key, depth + 1) for i, v in enumerate(value)][::-1])
        elif isinstance(value, (bytes, bytearray)):
            out.append(_make_text(path, key, bytes(value).decode("utf-8", "replace"), False, raw_only))
    return cut


def analyse(tool: str, args: Mapping[str, Any], *, normalize: bool = True, workspace: str | None = None) -> Analysis:
    """Build the analysis of one call; linear in the total size of the arguments.

    ``workspace`` is where relative paths anchor (an absolute POSIX path). ``normalize=False`` keeps every
    string as it came (no Unicode folding, no decoding): for ablations only.
    """
    texts: list[Text] = []
    cut = _walk(args, texts, not normalize)
    tool_norm = _normalize_text(tool) if normalize else tool
    return Analysis(tool, fold(tool_norm), dict(args), texts, bool(cut), cut_reason=cut, workspace=workspace)
