"""The stateless gateway's state store: canonical records that fail closed, leases, and the engine's own state
change applied by ``TokenSession`` (the Redis backend is exercised against a real server in test_stateless.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sentinel_lab._mcp.state_store import (
    MemoryStore,
    StateStoreError,
    TokenSessions,
    dumps_state,
    loads_state,
    open_store,
)
from sentinel_lab._policy.engine import SessionState
from sentinel_lab._policy.model import Policy

POLICY = """
static_rules: {source: ALLOW, sink: ALLOW, clean: ALLOW}
taint_rules:
  - {tool: source, action: ADD_TAINT, taint_tags: [secret]}
  - {tool: clean, action: REMOVE_TAINT, taint_tags: [secret]}
  - {tool: sink, action: CHECK_TAINT, forbidden_taints: [secret]}
verifier: {enabled: false}
"""


def test_records_are_canonical_and_read_back_exactly() -> None:
    state = SessionState("k", taints=frozenset({"b", "a"}), flows=frozenset({"f"}))
    data = dumps_state(state)
    assert data == b'{"flows":["f"],"taints":["a","b"],"v":1}'
    assert loads_state("k", data) == state


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'{"flows":[],"taints":[],"v":2}',
        b'{"flows":[],"taints":["b","a"],"v":1}',  # not sorted: not the store's own writing
        b'{"flows": [], "taints": [], "v": 1}',
        b'{"flows":[],"taints":[1],"v":1}',
        b'{"flows":[],"taints":[],"v":1,"extra":0}',
        b'{"flows":[],"v":1}',
    ],
)
def test_a_record_not_in_canonical_form_fails_closed(data: bytes) -> None:
    with pytest.raises(StateStoreError):
        loads_state("k", data)


def test_memory_leases_expire_and_unknown_tokens_read_as_none() -> None:
    now = [0.0]
    store = MemoryStore(ttl_s=10, clock=lambda: now[0])
    assert store.load("never") is None
    store.create("k")
    now[0] = 9.0
    assert store.load("k") == SessionState("k")  # and the lease is renewed
    now[0] = 18.0
    assert store.load("k") is not None
    now[0] = 40.0
    assert store.load("k") is None


def test_token_sessions_judge_and_record_through_the_store() -> None:
    store = MemoryStore()
    sessions = TokenSessions(Policy.from_yaml(POLICY), store)
    store.create("t1")
    store.create("t2")
    one, two = sessions.session("t1"), sessions.session("t2")
    assert one.check("sink", {}).allowed
    assert one.record("source", {}) == {"secret"}
    assert not one.check("sink", {}).allowed
    assert two.check("sink", {}).allowed  # another token, another session
    assert one.record("clean", {}) == frozenset()  # removal applied to the stored state too
    assert one.check("sink", {}).allowed
    with pytest.raises(StateStoreError):
        sessions.session("never-issued").check("sink", {})


def test_a_failed_write_refuses_the_token_from_then_on() -> None:
    class Failing(MemoryStore):
        def update(self, key: str, change: object) -> SessionState:
            raise StateStoreError("disk on fire")

    store = Failing()
    store.create("t")
    sessions = TokenSessions(Policy.from_yaml(POLICY), store)
    with pytest.raises(StateStoreError):
        sessions.session("t").record("source", {})
    assert "t" in sessions.poisoned
    with pytest.raises(StateStoreError):
        sessions.session("t").check("sink", {})


def test_memory_updates_keep_every_change() -> None:
    store = MemoryStore()
    store.create("k")
    for n in range(5):
        store.update("k", lambda s, n=n: replace(s, taints=s.taints | {str(n)}))
    loaded = store.load("k")
    assert loaded is not None and loaded.taints == {"0", "1", "2", "3", "4"}


def test_open_store_names_what_it_accepts() -> None:
    assert open_store("memory").description == "memory"
    with pytest.raises(ValueError, match="--state must be"):
        open_store("postgres://x")


def test_a_full_memory_store_forgets_unused_tokens_never_a_taint() -> None:
    store = MemoryStore(cap=10)
    store.create("tainted")
    store.update("tainted", lambda s: replace(s, taints=frozenset({"secret"})))
    for n in range(30):  # far past the cap: the oldest unused tokens make room
        store.create(f"t{n}")
    kept = store.load("tainted")
    assert kept is not None and kept.taints == {"secret"}
    assert store.load("t0") is None and store.load("t29") is not None
    full = MemoryStore(cap=2)
    for key in ("a", "b"):
        full.create(key)
        full.update(key, lambda s: replace(s, taints=frozenset({"x"})))
    with pytest.raises(StateStoreError, match="no new one is issued"):
        full.create("c")


def test_every_state_field_is_stored() -> None:
    """The record has one list per field of the engine's state, so a field it gains is not dropped."""
    import dataclasses
    import json

    names = {f.name for f in dataclasses.fields(SessionState)} - {"id"}
    assert set(json.loads(dumps_state(SessionState("k")))) == names | {"v"}
