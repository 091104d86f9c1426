"""Spotlighting: mark untrusted text from the tool server so a model can tell data from instructions.

Each text is wrapped as ``<<<SENTINEL_DATA_START:{id}>>>\\n{text}\\n<<<SENTINEL_DATA_END:{id}>>>`` with a fresh
random 128-bit id per item (``_Ids``: from a pool the OS CSPRNG fills 256 ids at a time). Any
``<<<SENTINEL_DATA_`` already inside the text (a forged start or end marker) is rewritten to
``<<<ESCAPED_SENTINEL_DATA_``, so a tool cannot close the wrapper early or fake a trusted region, and a forged
marker cannot guess the id either.

``protect_message`` applies this to ANY message the tool server sends to the client (a response, a server
request or a notification): every string in it, and every object key that is not an MCP field name, is returned
for the injection scan, whatever its depth; a chosen set of fields is also wrapped in place. The walk is
iterative (no recursion limit to hit, no depth past which text escapes) and linear in the size of the message.

Which texts are wrapped (a model reads them as data) and which are only returned for scanning:

=============================================  ==========  ==================================================
Where                                          Treatment   Why
=============================================  ==========  ==================================================
content block ``text`` (tool results,          wrap        the tool output a model reads
``tasks/result`` payloads, prompt messages)
embedded resource ``resource.text``,           wrap        file / resource contents a model reads
``resources/read`` ``contents[].text``
``structuredContent`` strings and keys, any    scan        machine-read data a client validates against the
depth                                                      tool's ``outputSchema`` and parses: never altered
``resource_link`` ``description``              wrap        prose a model reads
``error.message`` answering ``tools/call``,    wrap        hosts hand tool errors to the model; any string is
``tasks/result``, ``resources/read``,                      a valid message
``prompts/get``, ``tasks/get``
``error.message`` answering anything else      scan        clients may act on protocol errors
``error.data``                                 scan        structured data clients parse (-32042 and others)
``resource_link`` name/title/uri/mimeType,     scan        identifiers: wrapping would break the link
annotations, ``_meta`` (keys and values)       scan        metadata clients interpret
image/audio ``data``, resource ``blob``        untouched   binary (base64): never altered, never scanned
``tools/list`` names, titles, descriptions,    scan        definitions are pinned and shown, never wrapped
schemas; prompt/resource lists; ``initialize``
``instructions`` and ``serverInfo``
prompts/get ``description``                    scan        a label for the prompt, not content
``completion/complete`` ``values``             scan        inserted verbatim into the user's input
``sampling/createMessage`` messages,           scan        the server's own prompt, reviewed by the user;
``systemPrompt``, tools, metadata                          wrapping would turn the request into data
``elicitation/create`` message, url,           scan        shown to the human, and a schema the client checks
``requestedSchema`` (descriptions, titles...)
``InputRequiredResult.inputRequests``          scan        embedded sampling / elicitation requests (2026-07)
notifications (``message`` data/logger,        scan        logged or shown, never model input by design
``progress`` message, task status, cancel
reason, anything else)
anything not listed, in any message            scan        fail closed: unknown text is still judged
=============================================  ==========  ==================================================

Why ``structuredContent`` is never rewritten: a client validates it against the tool's ``outputSchema`` (the
official Python and TypeScript clients and the Inspector raise on a mismatch) and programs parse it, so no marker
can go into it safely: an enum, a ``const``, a ``pattern``, a ``format`` (``date-time``, ``uri``...), a
``maxLength``, base64 fields (``contentEncoding``, ``format: base64``, an image's ``data``), and even a plain
``{"type": "string"}`` that the program parses (the time server's ISO datetimes) would all break. The rule is
therefore schema-independent, so it holds whether or not the proxy has seen the tool's ``tools/list`` entry. Its
texts are scanned like every other text; the relay scans them *before* forwarding and, when they show prompt
injection signs, says so in the result's ``_meta["sentinel/output_scan"]`` (flag mode) or withholds the result
(``scan_output: block``). The text a model reads is still wrapped: ``content`` blocks, which MCP servers fill with
the same data serialised as JSON. A ``text`` block holding JSON is wrapped whole (the marker must enclose the whole
untrusted region), so it is no longer JSON until unwrapped with :func:`unwrap`; a program that wants the data reads
``structuredContent``, which is left exactly as the server sent it. Image and audio ``data`` and resource ``blob``
are never altered, wherever they appear.

Short vocabulary values (``"jsonrpc": "2.0"``, ``"type": "text"``, ``"role": "user"``...) and the top-level
``method`` and ``id`` are not returned. A message without text (a ping result, an empty result) costs a few
dictionary look-ups.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from sentinel_lab._core.wire import OUTPUT_SCAN_META_KEY, SESSION_META_KEY, VERDICT_META_KEY

__all__ = [
    "END",
    "MARKER_PREFIX",
    "START",
    "neutralise",
    "protect_message",
    "spotlight_result",
    "unwrap",
    "wrap",
]

MARKER_PREFIX = "<<<SENTINEL_DATA_"
START = "<<<SENTINEL_DATA_START:"
END = "<<<SENTINEL_DATA_END:"
_ESCAPED = "<<<ESCAPED_SENTINEL_DATA_"


def neutralise(text: str) -> str:
    """Defuse any marker prefix inside ``text`` so it cannot open or close a wrapper."""
    if MARKER_PREFIX not in text:
        return text
    return text.replace(MARKER_PREFIX, _ESCAPED)


class _Ids:
    """Marker ids: 16 bytes each straight from ``os.urandom``, fetched 4 KiB (256 ids) at a time.

    Why this is sound: every id is 128 bits of the kernel's CSPRNG output, used once and never derived from
    anything the tool server sees, so a server cannot predict the id of a wrapper around its own text (it would
    need the kernel generator's state), and ids cannot repeat except by a 2^-128 chance. The pool only changes how
    often the kernel is asked (one ``getrandom`` per 256 ids instead of one or two per id); it lives in this
    process's memory, which the tool server (another process) cannot read. A forked child drops the pool, so
    parent and child never hand out the same bytes.
    """

    _POOL = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._pos = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._pool, self._pos = b"", 0

    def next(self) -> str:
        """A fresh id: 32 hex digits."""
        with self._lock:
            pos = self._pos
            if pos >= len(self._pool):
                self._pool, pos = os.urandom(self._POOL), 0
            self._pos = pos + 16
            return self._pool[pos : pos + 16].hex()


_IDS = _Ids()


def wrap(text: str, item_id: str | None = None) -> str:
    """Wrap one untrusted text in randomized delimiters (a new 128-bit id unless one is given)."""
    ident = item_id or _IDS.next()
    return f"{START}{ident}>>>\n{neutralise(text)}\n{END}{ident}>>>"


def unwrap(text: str) -> tuple[str, str] | None:
    """Split a wrapped text into ``(id, inner text)``; None if it is not exactly one well-formed wrapper."""
    if not text.startswith(START):
        return None
    head_end = text.find(">>>\n", len(START))
    if head_end < 0:
        return None
    ident = text[len(START) : head_end]
    tail = f"\n{END}{ident}>>>"
    if not ident or not text.endswith(tail) or len(text) < head_end + 4 + len(tail):
        return None
    return ident, text[head_end + 4 : len(text) - len(tail)]


# Kinds of node the walker knows. Anything else is _ANY: every string in it is scanned, nothing is wrapped.
_ANY = 0  # free-form: scan every string and non-field key, at any depth
_STRUCTURED = 1  # structuredContent: every string and key at any depth scanned, nothing ever altered
_WRAP_TEXT = 2  # one string to wrap (anything else: as _ANY)
_BINARY = 3  # base64 payload: never altered, never scanned (a non-string: as _ANY)
_OUTPUT = 4  # a result that is tool/resource/prompt output (tools/call, tasks/result, ...)
_BLOCKS = 5  # a content block or a list of them
_BLOCK = 6  # one content block
_RESOURCE = 7  # resource contents (embedded, or resources/read contents[])
_RESOURCES = 8  # a list of resource contents
_PROMPT_MESSAGES = 9  # prompts/get messages[]
_REQUESTS = 10  # InputRequiredResult.inputRequests: a map of embedded server requests
_REQUEST = 11  # one server request (method + params)
_SAMPLING = 12  # the params of a sampling/createMessage request
_NO_WRAP = 0x100  # flag: below here texts are returned for scanning but never wrapped

# Results of these methods are output a model reads: their texts are wrapped. Everything else is scan-only.
_OUTPUT_METHODS = frozenset({"tools/call", "tasks/result", "tasks/get", "resources/read", "prompts/get"})
_BINARY_BLOCKS = frozenset({"image", "audio"})

# Object keys that are MCP / JSON-RPC / JSON Schema field names: not returned for scanning when used as keys.
_FIELD_NAMES = frozenset(
    {
        "$schema",
        "_meta",
        "action",
        "additionalProperties",
        "annotations",
        "anyOf",
        "arguments",
        "audience",
        "blob",
        "cacheScope",
        "capabilities",
        "code",
        "completion",
        "completions",
        "const",
        "content",
        "contents",
        "costPriority",
        "createdAt",
        "cursor",
        "data",
        "default",
        "description",
        "destructiveHint",
        "elicitation",
        "elicitationId",
        "elicitations",
        "enum",
        "enumNames",
        "error",
        "execution",
        "experimental",
        "extensions",
        "format",
        "hasMore",
        "hints",
        "icons",
        "id",
        "idempotentHint",
        "io.modelcontextprotocol/clientCapabilities",
        "io.modelcontextprotocol/clientInfo",
        "io.modelcontextprotocol/model-immediate-response",
        "io.modelcontextprotocol/protocolVersion",
        "io.modelcontextprotocol/related-task",
        "includeContext",
        "input",
        "inputRequests",
        "inputSchema",
        "instructions",
        "intelligencePriority",
        "isError",
        "items",
        "jsonrpc",
        "lastModified",
        "lastUpdatedAt",
        "level",
        "listChanged",
        "logger",
        "logging",
        "maxItems",
        "maxLength",
        "maxTokens",
        "maximum",
        "message",
        "messages",
        "metadata",
        "method",
        "mimeType",
        "minItems",
        "minLength",
        "minimum",
        "mode",
        "model",
        "modelPreferences",
        "name",
        "nextCursor",
        "oneOf",
        "openWorldHint",
        "outputSchema",
        "params",
        "pollInterval",
        "priority",
        "progress",
        "progressToken",
        "prompts",
        "properties",
        "protocolVersion",
        "readOnlyHint",
        "reason",
        "ref",
        "requestId",
        "requestState",
        "requestedSchema",
        "required",
        "resource",
        "resourceTemplates",
        "resources",
        "result",
        "resultType",
        "role",
        "roots",
        "sampling",
        OUTPUT_SCAN_META_KEY,
        SESSION_META_KEY,
        VERDICT_META_KEY,
        "serverInfo",
        "sizes",
        "speedPriority",
        "src",
        "status",
        "statusMessage",
        "stopReason",
        "stopSequences",
        "structuredContent",
        "subscribe",
        "supportedVersions",
        "systemPrompt",
        "task",
        "taskId",
        "taskSupport",
        "tasks",
        "temperature",
        "text",
        "theme",
        "title",
        "toolChoice",
        "toolUseId",
        "tools",
        "total",
        "ttl",
        "ttlMs",
        "type",
        "uri",
        "uriTemplate",
        "url",
        "values",
        "version",
        "websiteUrl",
    }
)

# Protocol words (``"2.0"``, ``"text"``, ``"user"``, ``"object"``...): a string exactly equal to one is not text.
_WORDS = frozenset(
    {
        "2.0",
        "text",
        "image",
        "audio",
        "resource",
        "resource_link",
        "tool_use",
        "tool_result",
        "object",
        "string",
        "number",
        "integer",
        "boolean",
        "array",
        "null",
        "ref/prompt",
        "ref/resource",
        "user",
        "assistant",
        "complete",
        "input_required",
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
        "form",
        "url",
        "auto",
        "required",
        "none",
        "working",
        "completed",
        "failed",
        "cancelled",
        "public",
        "private",
        "forbidden",
        "optional",
        "light",
        "dark",
        "thisServer",
        "allServers",
        "endTurn",
        "stopSequence",
        "maxTokens",
        "toolUse",
    }
)

# Per kind of object, the kind of each known field (fields not listed are _ANY).
_BLOCK_FIELDS: dict[str, int] = {
    "text": _WRAP_TEXT,
    "resource": _RESOURCE,
    "content": _BLOCKS,  # tool_result blocks (sampling) nest content blocks
    "structuredContent": _STRUCTURED,
}
_BINARY_BLOCK_FIELDS: dict[str, int] = {**_BLOCK_FIELDS, "data": _BINARY}
_LINK_FIELDS: dict[str, int] = {**_BLOCK_FIELDS, "description": _WRAP_TEXT}
_RESOURCE_FIELDS: dict[str, int] = {"text": _WRAP_TEXT, "blob": _BINARY}
_OUTPUT_FIELDS: dict[str, int] = {
    "content": _BLOCKS,
    "structuredContent": _STRUCTURED,
    "contents": _RESOURCES,
    "messages": _PROMPT_MESSAGES,
    "inputRequests": _REQUESTS,
    "result": _OUTPUT,  # a task's payload nested in a tasks/get answer
}
_MESSAGE_FIELDS: dict[str, int] = {"content": _BLOCKS}
_SAMPLING_FIELDS: dict[str, int] = {"messages": _PROMPT_MESSAGES | _NO_WRAP}
_REQUEST_FIELDS: dict[str, int] = {"params": _SAMPLING}  # only for a sampling/createMessage request
_ERROR_FIELDS: dict[str, int] = {"message": _WRAP_TEXT}
_NO_FIELDS: dict[str, int] = {}
_SEQUENCES = frozenset({_BLOCKS, _RESOURCES, _PROMPT_MESSAGES, _STRUCTURED})

_Frame = tuple[Any, Any, int]


class _Walk:
    """One iterative walk over a message: an explicit stack of (container, key, kind) and the texts found."""

    __slots__ = ("found", "held", "keys_seen", "stack", "wrap")

    def __init__(self, wrap_texts: bool, held: list[str] | None = None) -> None:
        self.found: list[str] = []
        self.held = self.found if held is None else held  # where structuredContent's texts go
        self.keys_seen: set[str] = set()
        self.stack: list[_Frame] = []
        self.wrap = wrap_texts

    def push_fields(self, obj: dict[Any, Any], fields: dict[str, int], flags: int = 0) -> None:
        """Schedule every field of an object: listed ones by their kind, the rest as free-form text."""
        frames: list[_Frame] = []
        for key, value in obj.items():
            self.key(key)
            vtype = type(value)
            kind = fields.get(key, _ANY) if type(key) is str else _ANY
            if kind == _ANY and vtype is str:
                self.text(value)
            elif vtype is str or vtype is dict or vtype is list:
                frames.append((obj, key, kind | flags))
        self.stack.extend(reversed(frames))

    def key(self, key: Any, into: list[str] | None = None) -> None:
        if type(key) is str and key not in _FIELD_NAMES and key not in self.keys_seen:
            self.keys_seen.add(key)
            (self.found if into is None else into).append(key)

    def text(self, value: str) -> None:
        if value not in _WORDS:
            self.found.append(value)

    def run(self) -> None:
        stack = self.stack
        while stack:
            container, key, kind = stack.pop()
            value = container[key]
            vtype = type(value)
            if vtype is str:
                base = kind & ~_NO_WRAP
                if base == _BINARY:
                    continue
                if base == _STRUCTURED:
                    self.held.append(value)  # machine-read data: scanned, never altered
                elif base == _WRAP_TEXT:
                    self.found.append(value)
                    if self.wrap and not kind & _NO_WRAP:
                        container[key] = wrap(value)
                else:
                    self.text(value)
            elif vtype is dict:
                self.visit_dict(value, kind)
            elif vtype is list:
                self.visit_list(value, kind)

    def visit_dict(self, obj: dict[Any, Any], kind: int) -> None:
        flags = kind & _NO_WRAP
        base = kind & ~_NO_WRAP
        if base in (_BLOCK, _BLOCKS):
            btype = obj.get("type")
            fields = _BLOCK_FIELDS
            if type(btype) is str:
                if btype in _BINARY_BLOCKS:
                    fields = _BINARY_BLOCK_FIELDS
                elif btype == "resource_link":
                    fields = _LINK_FIELDS
            self.push_fields(obj, fields, flags)
        elif base in (_RESOURCE, _RESOURCES):
            self.push_fields(obj, _RESOURCE_FIELDS, flags)
        elif base == _OUTPUT:
            self.push_fields(obj, _OUTPUT_FIELDS, flags)
        elif base == _PROMPT_MESSAGES:
            self.push_fields(obj, _MESSAGE_FIELDS, flags)
        elif base == _REQUESTS:  # server-assigned keys, each an embedded server request
            self.push_fields(obj, dict.fromkeys((k for k in obj if type(k) is str), _REQUEST), flags)
        elif base == _REQUEST:
            sampling = obj.get("method") == "sampling/createMessage"
            self.push_fields(obj, _REQUEST_FIELDS if sampling else _NO_FIELDS, flags)
        elif base == _SAMPLING:
            self.push_fields(obj, _SAMPLING_FIELDS, flags)
        elif base == _STRUCTURED:
            frames: list[_Frame] = []
            for key, value in obj.items():
                self.key(key, self.held)
                vtype = type(value)
                if vtype is str or vtype is dict or vtype is list:
                    frames.append((obj, key, kind))
            self.stack.extend(reversed(frames))
        else:  # _ANY, or a kind that expected a string: free-form
            self.push_fields(obj, _NO_FIELDS)

    def visit_list(self, items: list[Any], kind: int) -> None:
        base = kind & ~_NO_WRAP
        inner = kind if base in _SEQUENCES else _ANY
        structured = base == _STRUCTURED
        frames: list[_Frame] = []
        for index, value in enumerate(items):
            vtype = type(value)
            if vtype is str and not structured:
                self.text(value)  # free text, or a bare string where an object belongs: scan, do not wrap
            elif vtype is str or vtype is dict or vtype is list:
                frames.append((items, index, inner))
        self.stack.extend(reversed(frames))


def protect_message(
    msg: dict[str, Any], answered_method: str | None, *, wrap: bool = True, structured: list[str] | None = None
) -> list[str]:
    """Spotlight in place every untrusted text of a message from the tool server; return the original texts.

    ``answered_method`` is the method of the request this message answers, or None when ``msg`` is itself a server
    request or notification. With ``wrap=False`` nothing changes and only the texts are collected. The strings and
    keys of ``structuredContent`` (never altered) are returned too, or appended to ``structured`` when it is given,
    so a caller can scan them before the message leaves. See the module docstring for which fields are wrapped and
    which are only returned. Never raises on odd shapes.
    """
    if type(msg) is not dict:
        return []
    walk = _Walk(wrap, structured)
    output = answered_method in _OUTPUT_METHODS
    trusted = {"jsonrpc": "2.0"}
    fields: dict[str, int] = {"result": _OUTPUT if output else _ANY}
    if answered_method is None and type(msg.get("method")) is str:
        trusted["method"] = msg["method"]  # the server's method name is routing, checked by the relay
        if msg["method"] == "sampling/createMessage":
            fields["params"] = _SAMPLING
    if type(msg.get("id")) in (int, str):
        trusted["id"] = msg["id"]
    rest = {k: v for k, v in msg.items() if k not in trusted or v != trusted[k]}
    error = rest.pop("error", None) if type(rest.get("error")) is dict else None
    if rest:
        walk.push_fields(rest, fields)
        walk.run()
    if error is not None:
        walk.key("error")  # the field name itself is known: nothing found
        walk.push_fields(error, _ERROR_FIELDS if output else _NO_FIELDS)
        walk.run()
    return walk.found


def spotlight_result(result: dict[str, Any], *, wrap_texts: bool = True) -> list[str]:
    """Wrap every untrusted text of a ``tools/call`` result in place; return the original texts (for scanning).

    With ``wrap_texts=False`` nothing changes and only the texts are collected.
    """
    if type(result) is not dict:
        return []
    return protect_message({"result": result}, "tools/call", wrap=wrap_texts)
