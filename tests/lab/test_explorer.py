"""The explorer: judging items with a verifier or policy, filters, search, detail view, check toggles, the chart,
and the ipywidgets panel (driven without a frontend)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sentinel_lab import Verifier
from sentinel_lab.lab.explorer import Explorer, explore, items_frame

ITEMS: list[dict[str, Any]] = [
    {
        "id": "ssrf-1",
        "tool": "fetch",
        "args": {"url": "http://169.254.169.254/latest/meta-data/"},
        "expected": "block",
        "category": "ssrf",
        "technique": "metadata",
    },
    {
        "id": "trav-1",
        "tool": "read_file",
        "args": {"path": "%2e%2e/%2e%2e/%2e%2e/etc/shadow"},
        "expected": "block",
        "category": "path_traversal",
        "technique": "percent",
    },
    {
        "id": "ssrf-2",
        "tool": "fetch",
        "args": {"url": "http://127.0.0.1:8080/admin"},
        "expected": "block",
        "category": "ssrf",
        "technique": "loopback",
    },
    {
        "id": "ok-1",
        "tool": "read_file",
        "args": {"path": "README.md"},
        "expected": "allow",
        "category": "benign",
        "technique": "plain",
    },
    {
        "id": "ok-2",
        "tool": "fetch",
        "args": {"url": "https://docs.python.org/3/"},
        "expected": "allow",
        "category": "benign",
        "technique": "plain",
    },
]


@pytest.fixture(scope="module")
def ex() -> Explorer:
    return explore(ITEMS, Verifier(rate_limit=False))


def test_judging_rates_and_toggles(ex: Explorer) -> None:
    frame = ex.frame
    assert frame.set_index("id")["blocked"].to_dict() == {
        "ssrf-1": True,
        "trav-1": True,
        "ssrf-2": True,
        "ok-1": False,
        "ok-2": False,
    }
    assert frame.set_index("id").loc["ssrf-1", "policy"] == "internal_access"
    r = ex.rates()
    assert (r["attacks"], r["attacks_blocked"], r["benign"], r["benign_blocked"]) == (3, 3, 2, 0)
    assert r["detection"] == 1.0 and r["false_positive_rate"] == 0.0
    # switching internal_access off re-scores: both SSRF items now pass
    assert ex.rates(disabled={"internal_access"})["attacks_blocked"] == 1
    ex.set_check("internal_access", False)
    try:
        assert ex.rates()["detection"] == pytest.approx(1 / 3)
        assert "off: internal_access" in ex.rates_text()
        cat = ex.by_category().set_index(["category", "label"])
        assert cat.loc[("ssrf", "attack"), "blocked"] == 0 and cat.loc[("ssrf", "attack"), "items"] == 2
    finally:
        ex.set_check("internal_access", True)
    assert ex.rates()["detection"] == 1.0
    with pytest.raises(KeyError):
        ex.set_check("no_such_check", False)


def test_filters_and_search(ex: Explorer) -> None:
    assert ex.filter(category="ssrf")["id"].tolist() == ["ssrf-1", "ssrf-2"]
    assert ex.filter(label="benign")["id"].tolist() == ["ok-1", "ok-2"]
    assert ex.filter(technique=["percent", "loopback"])["id"].tolist() == ["trav-1", "ssrf-2"]
    assert ex.filter(verdict="allowed")["id"].tolist() == ["ok-1", "ok-2"]
    assert ex.filter(search="127.0.0.1")["id"].tolist() == ["ssrf-2"]
    assert ex.filter(search="METADATA")["id"].tolist() == ["ssrf-1"]  # case-insensitive, technique too
    ex.set_check("internal_access", False)
    try:
        assert ex.filter(verdict="missed attacks")["id"].tolist() == ["ssrf-1", "ssrf-2"]
    finally:
        ex.set_check("internal_access", True)
    assert ex.filter(verdict="false positives").empty
    with pytest.raises(ValueError):
        ex.filter(verdict="maybe")


def test_detail_shows_normalised_strings_parsed_views_and_each_check(ex: Explorer) -> None:
    d = ex.detail("trav-1")
    text = repr(d)
    assert "../../../etc/shadow" in text  # the percent-decoded reading
    assert "file_traversal [on]: FLAGGED" in text
    assert "internal_access [on]: pass" in text
    assert "BLOCKED" in d.header()
    ssrf = repr(ex.detail("ssrf-1"))
    assert "host=169.254.169.254" in ssrf and "metadata=True" in ssrf
    assert "<pre" in ex.detail("ok-1")._repr_html_()
    with pytest.raises(KeyError):
        ex.detail("nope")


def test_evaluation_frame_and_figure(ex: Explorer) -> None:
    frame = ex.evaluation_frame()
    assert list(frame.columns[:7]) == ["id", "label", "category", "technique", "dataset", "trace_id", "step"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert set(frame["source"]) == {"eval"}
    fig = ex.figure()
    ax = fig.axes[0]
    assert len(ax.patches) == len(ex.by_category()) == 3
    widths = sorted(round(p.get_width()) for p in ax.patches)
    assert widths == [0, 100, 100]


def test_policy_with_traces_carries_taint(tmp_path: Path) -> None:
    from sentinel_lab import Policy

    policy = Policy.from_yaml(
        "static_rules: {fetch_url: ALLOW, send_email: ALLOW}\n"
        "taint_rules:\n"
        "  - {tool: fetch_url, action: ADD_TAINT, taint_tags: [web]}\n"
        "  - {tool: send_email, action: CHECK_TAINT, forbidden_taints: [web], message: no mail after the web}\n"
        "verifier: {enabled: false}\n"
    )
    rows = [
        {
            "id": "t1-2",
            "tool": "send_email",
            "args": {"to": "x@y.example"},
            "label": "attack",
            "trace_id": "t1",
            "step": 2,
        },
        {
            "id": "t1-1",
            "tool": "fetch_url",
            "args": {"url": "https://a.example"},
            "label": "benign",
            "trace_id": "t1",
            "step": 1,
        },
        {"id": "solo", "tool": "send_email", "args": {"to": "x@y.example"}, "label": "benign"},
        {"id": "out", "kind": "output", "tool": "fetch_url", "args": {}, "label": "attack"},
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ex = explore(str(path), policy)
    assert ex.kind == "policy" and len(ex.items) == 3  # the tool-output row is not a call
    blocked = ex.frame.set_index("id")["blocked"].to_dict()
    assert blocked == {"t1-2": True, "t1-1": False, "solo": False}  # taint flows only within the trace
    assert ex.frame.set_index("id").loc["t1-2", "policy"] == "taint_rules"
    assert "taint_rules" in ex.check_names
    ex.set_check("taint_rules", False)
    assert ex.rates()["attacks_blocked"] == 0


def test_items_frame_from_dataset_frame() -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "tool": ["t", "u"],
            "args": ['{"x": 1}', {"y": 2}],
            "label": pd.Categorical(["attack", "benign"]),
            "category": ["c", None],
        }
    )
    items = items_frame(frame)
    assert items["args"].tolist() == [{"x": 1}, {"y": 2}]
    assert items["label"].tolist() == ["attack", "benign"]
    assert items["category"].tolist() == ["c", ""]
    with pytest.raises(TypeError):
        explore(42, Verifier())


def _find(widget: Any, cls: type) -> list[Any]:
    found = [widget] if isinstance(widget, cls) else []
    for child in getattr(widget, "children", ()):
        found.extend(_find(child, cls))
    return found


def test_widget_panel_updates_without_frontend() -> None:
    ipywidgets = pytest.importorskip("ipywidgets")
    ex = explore(ITEMS, Verifier(rate_limit=False))
    panel = ex.widget
    assert isinstance(panel, ipywidgets.VBox)
    picker = _find(panel, ipywidgets.Select)[0]
    assert len(picker.options) == 5
    category = next(d for d in _find(panel, ipywidgets.Dropdown) if d.description == "category")
    category.value = "ssrf"
    assert [v for _, v in picker.options] == ["ssrf-1", "ssrf-2"]
    search = _find(panel, ipywidgets.Text)[0]
    search.value = "127.0"
    assert [v for _, v in picker.options] == ["ssrf-2"]
    # ticking a check off re-scores and updates the rates line
    box = next(b for b in _find(panel, ipywidgets.Checkbox) if b.description == "internal_access")
    box.value = False
    assert "internal_access" in ex.disabled
    rates = [h.value for h in _find(panel, ipywidgets.HTML) if "detection" in h.value]
    assert rates and "1/3" in rates[-1]
    # and the API keeps the checkbox in sync
    ex.set_check("internal_access", True)
    assert box.value is True
    # outside a kernel the display is the static table
    bundle = ex._repr_mimebundle_()
    assert "text/html" in bundle and "application/vnd.jupyter.widget-view+json" not in bundle
    assert "detection 3/3" in bundle["text/plain"]


def test_header_and_detail_follow_switched_off_checks_and_empty_filters_clear_the_detail() -> None:
    ipywidgets = pytest.importorskip("ipywidgets")
    ex = explore(ITEMS, Verifier(rate_limit=False))
    blocked_id = str(ex.filter(verdict="blocked", category="ssrf")["id"].iloc[0])
    assert "BLOCKED" in ex.detail(blocked_id).header()
    ex.set_check("internal_access", False)
    header = ex.detail(blocked_id).header()
    # the list calls it a missed attack now: the header says the same, never BLOCKED
    assert blocked_id in set(ex.filter(verdict="missed attacks")["id"])
    assert "BLOCKED" not in header and "missed attack" in header and "switched-off internal_access" in header
    ex.set_check("internal_access", True)
    detail_html = ex.detail(blocked_id)._repr_html_()
    assert "canon=" not in detail_html and "<table" in detail_html  # parsed views as tables, not dataclass text
    panel = ex.widget
    picker = _find(panel, ipywidgets.Select)[0]
    picker.value = blocked_id
    detail = [h for h in _find(panel, ipywidgets.HTML) if "sl-detail" in h.value]
    assert detail and blocked_id in detail[0].value
    search = _find(panel, ipywidgets.Text)[0]
    search.value = "no item has this text"
    assert picker.options == () and picker.value is None
    assert not [h for h in _find(panel, ipywidgets.HTML) if "sl-detail" in h.value]  # the old detail is gone
    assert ex.selected.empty
    search.value = ""
    assert len(ex.selected) == len(ITEMS)
    rows_html = next(h.value for h in _find(panel, ipywidgets.HTML) if "sl-explorer-rows" in h.value)
    assert "<th>reason</th>" in rows_html and "text-align:left" in rows_html


def test_explore_with_several_judges_compares_their_decisions(tmp_path: Path) -> None:
    from sentinel_lab.lab.explorer import Comparison

    policy = tmp_path / "reads-only.yaml"
    policy.write_text("name: reads-only\ndefault_action: DENY\nstatic_rules:\n  read_file: ALLOW\n")
    cmp = explore(ITEMS, [Verifier(rate_limit=False), str(policy)])
    assert isinstance(cmp, Comparison)
    frame = cmp.frame
    columns = [c for c in frame.columns if c.startswith("decision · ")]
    assert columns == ["decision · Verifier 1", "decision · reads-only.yaml"]
    expected = [a != b for a, b in zip(frame[columns[0]], frame[columns[1]], strict=True)]
    assert frame["differs"].tolist() == expected and any(expected)
    html = cmp._repr_html_()
    assert f"{sum(expected)} decided differently" in html and "reads-only.yaml" in html
    assert list(cmp.rates().index) == ["Verifier 1", "reads-only.yaml"]
    with pytest.raises(ValueError):
        explore(ITEMS, [Verifier(rate_limit=False)])
