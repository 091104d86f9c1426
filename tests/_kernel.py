"""A real IPython kernel for the notebook tests: started in a folder, driven over ZMQ by ``jupyter_client``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


class RealKernel:
    """One ``python3`` kernel whose working directory is ``cwd``; ``execute`` runs a cell and returns its reply."""

    def __init__(self, cwd: Path) -> None:
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code: str, hook: Callable[[dict[str, Any]], None], timeout: float) -> dict[str, Any]:
        """Run ``code``, handing every iopub message to ``hook``; the execute reply's content."""
        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook, allow_stdin=False)
        return dict(reply["content"])

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
