"""Where the gateway keeps the policy state of each session token of the stateless (2026-07-28) revision.

A client of that revision has no protocol session: the gateway gives it a signed session token in the
``server/discover`` answer (``_mcp/session_id.py`` signs it) and the client presents it in ``params._meta`` of
later requests. What the policy engine remembers between calls (``_policy/engine.py``'s ``SessionState``: the
taints and the armed flow rules) is kept here under the token's nonce, never taken from the client.

- **Canonical records.** A state is stored as one canonical JSON object (sorted keys, no spaces, ASCII, sorted
  lists), one list per field of ``SessionState`` but its id: ``{"flows":[...],"taints":[...],"v":1}``. A
  record that does not read back as exactly that form is refused (``StateStoreError``), so a corrupt store
  fails closed instead of forgetting a taint.
- **A token is known or refused.** ``create`` registers a token when it is issued; ``load`` gives ``None`` for a
  token never issued here or idle for longer than ``ttl_s`` (the gateway refuses such a token; the client asks
  ``server/discover`` for a new one, which starts a fresh session). Every load and update renews the lease. A
  memory store full of tokens forgets the oldest never-used ones first (refused from then on, never a state
  holding a taint).
- **No lost update.** ``update`` applies the engine's own state change (``record``) to the state as it is in
  the store at that moment: under a lock in memory, in a Redis ``WATCH``/``MULTI``/``EXEC`` transaction retried
  on conflict with Redis, so two gateway workers recording calls of one token at once both land.
- **Failures fail closed.** A store that cannot be reached raises ``StateStoreError``; the relay turns a failed
  check into a denial, and a token whose change could not be written is refused for the rest of this worker's
  life (``TokenSessions.poisoned``).

``MemoryStore`` (the default) serves one gateway process; ``RedisStore`` (``--state redis://HOST:PORT/DB``)
lets several gateway workers behind one address share every token's taint.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from sentinel_lab._core.errors import ProxyError
from sentinel_lab._core.verdict import Verdict
from sentinel_lab._policy.engine import SessionState, decide, record, shared_verifier

__all__ = [
    "DEFAULT_TTL_S",
    "MemoryStore",
    "RedisStore",
    "StateStore",
    "StateStoreError",
    "TokenSession",
    "TokenSessions",
    "dumps_state",
    "loads_state",
    "open_store",
]

#: A token's state is forgotten (and the token refused) after this long without a request (24 hours).
DEFAULT_TTL_S = 24 * 3600
_FORMAT = 1
_KEY_PREFIX = "sentinel-lab:session:"
_UPDATE_ATTEMPTS = 32
#: Tokens one memory store keeps at once; past it the oldest unused ones are forgotten (and so refused), never a
#: token whose state holds anything; when every one does, no new token is issued.
_MEMORY_CAP = 100_000


class StateStoreError(ProxyError):
    """The state store cannot be read or written, or holds a record that is not a canonical state."""


#: Every field of the engine's state but its id (sets of strings: taints, armed flow rules, ...), so a field the
#: engine gains is stored too; one that is not a set of strings makes ``dumps_state`` raise, never vanish.
_FIELDS = tuple(f.name for f in dataclasses.fields(SessionState) if f.name != "id")


def dumps_state(state: SessionState) -> bytes:
    """The canonical record of ``state`` (its id is the store key, not part of the record)."""
    body: dict[str, Any] = {"v": _FORMAT}
    for name in _FIELDS:
        value = getattr(state, name)
        if not isinstance(value, frozenset) or not all(type(item) is str for item in value):
            raise StateStoreError(f"session state field {name!r} is not a set of strings; it cannot be stored")
        body[name] = sorted(value)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def loads_state(key: str, data: bytes) -> SessionState:
    """The state a record holds; ``StateStoreError`` unless ``data`` is exactly a canonical record."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateStoreError(f"the state of session {key} is not JSON") from exc
    if type(body) is not dict or set(body) != {*_FIELDS, "v"} or body["v"] != _FORMAT:
        raise StateStoreError(f"the state of session {key} is not a format-{_FORMAT} record")
    values: dict[str, frozenset[str]] = {}
    for name in _FIELDS:
        value = body[name]
        if type(value) is not list or not all(type(item) is str for item in value):
            raise StateStoreError(f"the state of session {key} holds a {name!r} that is not a list of strings")
        values[name] = frozenset(value)
    state = SessionState(key, **values)
    if dumps_state(state) != data:
        raise StateStoreError(f"the state of session {key} is not in canonical form")
    return state


Change = Callable[[SessionState], SessionState]


class StateStore(Protocol):
    """What the gateway needs of a store (keys are token nonces)."""

    description: str

    def create(self, key: str) -> None:
        """Register a newly issued token with an empty state."""

    def load(self, key: str) -> SessionState | None:
        """The token's state (renewing its lease), or None when it was never issued or has expired."""

    def update(self, key: str, change: Change) -> SessionState:
        """Apply ``change`` atomically to the state in the store; returns the state written."""

    def close(self) -> None:
        """Release connections."""


class MemoryStore:
    """States in this process (the default): one gateway worker; tokens of another worker are unknown here."""

    def __init__(
        self, ttl_s: float = DEFAULT_TTL_S, *, clock: Callable[[], float] = time.monotonic, cap: int = _MEMORY_CAP
    ) -> None:
        self.ttl_s = ttl_s
        self.cap = cap
        self.clock = clock
        self.description = "memory"
        self._states: dict[str, tuple[bytes, float]] = {}  # key -> (canonical record, expiry)
        self._lock = threading.Lock()

    def _sweep(self, now: float) -> None:
        for key in [k for k, (_, expiry) in self._states.items() if expiry <= now]:
            del self._states[key]

    def _evict_unused(self) -> None:
        """Forget the oldest tenth of the tokens whose state is still empty (issued, nothing recorded): such a
        token is refused from then on, so the client asks for a new one; a state with a taint is never dropped."""
        empty = self._empty
        unused = [k for k, (data, _) in self._states.items() if data == empty(k)][: max(1, self.cap // 10)]
        for key in unused:
            del self._states[key]

    @staticmethod
    def _empty(key: str) -> bytes:
        return dumps_state(SessionState(key))

    def create(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._states) >= self.cap:
                self._sweep(now)
            if len(self._states) >= self.cap:
                self._evict_unused()
            if len(self._states) >= self.cap:
                raise StateStoreError(f"{self.cap} session tokens hold state in memory; no new one is issued")
            self._states[key] = (dumps_state(SessionState(key)), now + self.ttl_s)

    def load(self, key: str) -> SessionState | None:
        with self._lock:
            now = self.clock()
            entry = self._states.get(key)
            if entry is None or entry[1] <= now:
                self._states.pop(key, None)
                return None
            self._states[key] = (entry[0], now + self.ttl_s)
            return loads_state(key, entry[0])

    def update(self, key: str, change: Change) -> SessionState:
        with self._lock:
            entry = self._states.get(key)
            current = loads_state(key, entry[0]) if entry is not None else SessionState(key)
            new = change(current)
            self._states[key] = (dumps_state(new), self.clock() + self.ttl_s)
            return new

    def close(self) -> None:
        """Nothing to release."""


class RedisStore:
    """States in Redis (``redis://HOST:PORT/DB``), shared by every gateway worker that names the same database."""

    def __init__(self, url: str, ttl_s: float = DEFAULT_TTL_S, *, timeout_s: float = 2.0) -> None:
        import redis

        self._redis = redis
        self.ttl_ms = max(1, int(ttl_s * 1000))
        parts = urlsplit(url)
        self.description = f"redis://{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"
        self.client: Any = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)

    def _key(self, key: str) -> str:
        return _KEY_PREFIX + key

    def ping(self) -> None:
        """Raise ``StateStoreError`` unless the server answers."""
        try:
            self.client.ping()
        except self._redis.RedisError as exc:
            raise StateStoreError(f"cannot reach the state store {self.description}: {exc}") from exc

    def create(self, key: str) -> None:
        try:
            self.client.set(self._key(key), dumps_state(SessionState(key)), px=self.ttl_ms)
        except self._redis.RedisError as exc:
            raise StateStoreError(f"state store {self.description}: {exc}") from exc

    def load(self, key: str) -> SessionState | None:
        try:
            data = self.client.getex(self._key(key), px=self.ttl_ms)
        except self._redis.RedisError as exc:
            raise StateStoreError(f"state store {self.description}: {exc}") from exc
        return None if data is None else loads_state(key, bytes(data))

    def update(self, key: str, change: Change) -> SessionState:
        """Optimistic transaction: WATCH the key, read it, apply ``change``, write in MULTI/EXEC; a write by
        another worker in between aborts the EXEC and the change is applied again to what that worker wrote."""
        name = self._key(key)
        try:
            with self.client.pipeline() as pipe:
                for _ in range(_UPDATE_ATTEMPTS):
                    try:
                        pipe.watch(name)
                        data = pipe.get(name)
                        current = SessionState(key) if data is None else loads_state(key, bytes(data))
                        new = change(current)
                        pipe.multi()
                        pipe.set(name, dumps_state(new), px=self.ttl_ms)
                        pipe.execute()
                        return new
                    except self._redis.WatchError:
                        continue
        except self._redis.RedisError as exc:
            raise StateStoreError(f"state store {self.description}: {exc}") from exc
        raise StateStoreError(f"state store {self.description}: {_UPDATE_ATTEMPTS} conflicting writes in a row")

    def close(self) -> None:
        self.client.close()


def open_store(spec: str, ttl_s: float = DEFAULT_TTL_S) -> StateStore:
    """``memory`` or ``redis://HOST:PORT/DB`` (``rediss://`` for TLS); a Redis store must answer a ping now."""
    if spec == "memory":
        return MemoryStore(ttl_s)
    scheme = spec.partition("://")[0].lower() if "://" in spec else ""
    if scheme not in ("redis", "rediss"):
        raise ValueError(f"--state must be 'memory' or a redis:// URL, got {spec!r}")
    store = RedisStore(spec, ttl_s)
    store.ping()
    return store


class TokenSession:
    """The policy session of one token, as the relay uses a policy session (``check`` / ``record``): each check
    reads the token's state from the store, each record writes the engine's change through it."""

    def __init__(self, owner: TokenSessions, key: str) -> None:
        self.owner, self.key = owner, key

    @property
    def id(self) -> str:
        return self.key

    def check(self, tool: str, args: Mapping[str, Any] | None = None, *, context: Any = None) -> Verdict:
        """The engine's verdict on the token's state now (a store failure raises: the relay denies)."""
        owner = self.owner
        if self.key in owner.poisoned:
            raise StateStoreError("an earlier change of this session's state could not be stored")
        state = owner.store.load(self.key)
        if state is None:
            raise StateStoreError("the session token expired")
        policy = owner.policy
        verdict, _ = decide(policy, state, tool, args, context=context, verifier=shared_verifier(policy))
        return verdict

    def record(self, tool: str, args: Mapping[str, Any] | None = None, ok: bool = True) -> frozenset[str]:
        """Apply a call's effects in the store; if that fails the token is refused from now on (fail closed)."""
        owner = self.owner
        try:
            return owner.store.update(self.key, lambda state: record(owner.policy, state, tool, args, ok)).taints
        except Exception:
            owner.poisoned.add(self.key)
            raise


class TokenSessions:
    """The policy sessions of every token one gateway worker serves, over one store."""

    def __init__(self, policy: Any, store: StateStore) -> None:
        self.policy, self.store = policy, store
        self.poisoned: set[str] = set()

    def session(self, key: str) -> TokenSession:
        return TokenSession(self, key)
