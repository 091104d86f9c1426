"""The seed verifier (the npm package mikoshi-sentinel) in Node, for side-by-side benchmarks.

``install_seed`` installs the package on demand with ``npm install --prefix`` into a folder of the project's
cache (``$SENTINEL_LAB_CACHE``, else the user cache dir), once; ``SeedRunner`` starts one long-lived Node
process running ``_bench_seed.mjs`` (shipped beside this module) and sends it one JSON line per call. The runner
times each ``verify()`` inside Node, so what crosses the pipe is never part of a sample. A missing ``node`` or
``npm``, or an install that fails, raises ``SeedUnavailable`` with a one-line reason; a call the seed itself
fails on raises ``SeedCallFailed``. ``$SENTINEL_LAB_SEED_PACKAGE`` names another install spec (a folder or tarball
of the same package), read by ``seed_spec()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sentinel_lab._datasets import cache_dir

__all__ = [
    "RUNNER",
    "SEED_ENV",
    "SEED_PACKAGE",
    "SEED_SPEC",
    "SeedCallFailed",
    "SeedRunner",
    "SeedUnavailable",
    "install_seed",
    "seed_prefix",
    "seed_spec",
]

SEED_PACKAGE = "mikoshi-sentinel"
SEED_SPEC = f"{SEED_PACKAGE}@1.0.1"
#: the environment variable naming another npm install spec of the seed package (a local folder, a tarball)
SEED_ENV = "SENTINEL_LAB_SEED_PACKAGE"
#: the Node side of the protocol, shipped as package data
RUNNER = Path(__file__).with_name("_bench_seed.mjs")
#: the seed modes the runner knows: its goal-intent verifier off ("same work" as ours without a goal), or on
MODES: tuple[str, ...] = ("same_work", "defaults")
_INSTALL_TIMEOUT = 600.0


class SeedUnavailable(RuntimeError):
    """The seed verifier cannot run here (no Node or npm, or the package cannot be installed or loaded)."""


class SeedCallFailed(SeedUnavailable):
    """The seed ran but failed on one call (its ``verify()`` raised): that call has no seed verdict."""


def seed_spec() -> str:
    """The npm install spec of the seed to run: ``$SENTINEL_LAB_SEED_PACKAGE`` when set, else ``SEED_SPEC``."""
    return os.environ.get(SEED_ENV, "").strip() or SEED_SPEC


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SeedUnavailable(f"'{name}' was not found on PATH; the seed verifier runs in Node (install node and npm)")
    return found


def seed_prefix(spec: str = SEED_SPEC) -> Path:
    """The npm prefix folder one package spec is installed into, inside the project's cache."""
    return cache_dir() / "seed" / re.sub(r"[^A-Za-z0-9._@-]+", "_", spec).strip("_")


def install_seed(spec: str = SEED_SPEC, prefix: Path | None = None, package: str = SEED_PACKAGE) -> Path:
    """Install ``spec`` (any npm install spec of the seed package: a version, a tarball, a folder) under
    ``prefix`` unless it is already there; returns the prefix."""
    node, npm = _tool("node"), _tool("npm")
    del node  # only its presence matters here
    where = prefix if prefix is not None else seed_prefix(spec)
    if (where / "node_modules" / package / "package.json").is_file():
        return where
    where.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--prefix", str(where), "--no-audit", "--no-fund", "--loglevel=error", spec]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise SeedUnavailable(f"npm install {spec} took longer than {_INSTALL_TIMEOUT:g} s") from None
    if done.returncode != 0 or not (where / "node_modules" / package / "package.json").is_file():
        lines = [ln.strip() for ln in (done.stderr or done.stdout or "").splitlines() if ln.strip()]
        detail = "; ".join(lines[:2])
        raise SeedUnavailable(f"npm could not install {spec} (exit {done.returncode}): {detail[:240]}")
    return where


class SeedRunner:
    """One Node process holding the seed's ``Sentinel`` twice (intent verifier off and on); ``verify`` sends
    one call and returns (µs measured in Node, the verdict's ``allowed``/``confidence``/``violations``/
    ``intent``)."""

    def __init__(self, prefix: Path, package: str = SEED_PACKAGE) -> None:
        node = _tool("node")
        # a file, not a pipe: nothing the runner writes there can fill a buffer and stall it
        self._stderr: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            [node, str(RUNNER), str(prefix), package],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        ready = self._read()
        if not ready.get("ok"):
            self.close()
            raise SeedUnavailable(str(ready.get("error", "the seed runner did not start")))
        self.node_version = str(ready.get("node", ""))

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._stderr.seek(0)
            tail = self._stderr.read()[-300:].strip().replace("\n", " ")
            raise SeedUnavailable(f"the seed runner stopped (exit {self._proc.poll()}): {tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def verify(
        self, action: Any, context: dict[str, Any] | None = None, mode: str = "same_work"
    ) -> tuple[float, dict[str, Any]]:
        """Verify one action in the seed; ``mode`` is ``same_work`` (intent verifier off) or ``defaults``."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        assert self._proc.stdin is not None
        request = {"op": "verify", "mode": mode, "action": action, "context": context or {"sessionId": "bench"}}
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        answer = self._read()
        if not answer.get("ok"):
            raise SeedCallFailed(str(answer.get("error", "the seed runner failed")))
        return float(answer["us"]), dict(answer["verdict"])

    def close(self) -> None:
        """End the Node process (closing its stdin ends its loop) and release the stderr file."""
        proc = self._proc
        if proc.stdin is not None and not proc.stdin.closed:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> SeedRunner:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
