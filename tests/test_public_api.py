"""The public surface: every name in __all__ resolves, and importing the core never imports the lab."""

from __future__ import annotations

import subprocess
import sys

import sentinel_lab


def test_every_public_name_resolves() -> None:
    missing = [name for name in sentinel_lab.__all__ if not hasattr(sentinel_lab, name)]
    assert missing == []


def test_exception_tree() -> None:
    from sentinel_lab import (
        AuditError,
        DatasetError,
        InvalidAction,
        PolicyError,
        PolicyViolation,
        ProxyError,
        SentinelError,
    )

    for exc in (AuditError, DatasetError, InvalidAction, PolicyError, PolicyViolation, ProxyError):
        assert issubclass(exc, SentinelError)
    err = PolicyError("unknown key", file="p.yaml", line=3, key="statc_rules")
    assert str(err) == "p.yaml:3: unknown key (key 'statc_rules')"
    assert (err.file, err.line, err.key) == ("p.yaml", 3, "statc_rules")


def test_core_import_stays_light() -> None:
    code = (
        "import sys, sentinel_lab\n"
        "from sentinel_lab import Verifier, Policy\n"
        "Verifier().verify({'tool': 'x', 'args': {'u': 'http://example.com/a'}})\n"
        "heavy = [m for m in ('pandas', 'IPython', 'matplotlib', 'ipywidgets') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
