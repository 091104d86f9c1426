"""OpenTelemetry: one span per proxy decision, a child of the client's ``traceparent``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sentinel_lab._core.verdict import Verdict, Violation
from sentinel_lab._mcp.relay import _Tracer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_span_is_parented_by_the_clients_traceparent() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = _Tracer(provider)
    verdict = Verdict(False, (Violation("static_rules", "denied"),), tool="rm", rule="static_rules.rm")
    tracer.decision("rm", {"traceparent": PARENT}, verdict, 7, "1.sid")
    tracer.decision("ls", None, Verdict(True, tool="ls"), 8, "1.sid")
    first, second = exporter.get_finished_spans()
    assert format(first.context.trace_id, "032x") == TRACE_ID
    assert format(first.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert first.attributes["sentinel.decision"] == "block"
    assert first.attributes["sentinel.rule"] == "static_rules.rm"
    assert first.attributes["jsonrpc.request_id"] == "7"
    assert second.parent is None and format(second.context.trace_id, "032x") != TRACE_ID


def test_no_configuration_means_no_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert _Tracer().tracer is None


def test_proxy_process_exports_decision_spans(tmp_path: Path) -> None:
    server = tmp_path / "server.py"
    server.write_text(
        "import json, sys\n"
        "for line in sys.stdin:\n"
        "    m = json.loads(line)\n"
        "    if 'id' in m:\n"
        "        print(json.dumps({'jsonrpc': '2.0', 'id': m['id'], 'result': {'content': []}}), flush=True)\n"
    )
    policy = tmp_path / "p.yaml"
    policy.write_text("static_rules: {ok: ALLOW}\nverifier: {enabled: false}\n")
    env = dict(os.environ, OTEL_TRACES_EXPORTER="console")
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "ok", "arguments": {}, "_meta": {"traceparent": PARENT}},
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sentinel_lab._cli",
            "proxy",
            "--policy",
            str(policy),
            "--",
            sys.executable,
            str(server),
        ],
        input=json.dumps(call) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["id"] == 1
    assert '"name": "sentinel.decide ok"' in out.stderr
    assert f'"trace_id": "0x{TRACE_ID}"' in out.stderr
