"""Optional build step: compile the verifier's hot core with mypyc into the wheel (``SENTINEL_LAB_COMPILE``).

``SENTINEL_LAB_COMPILE=1`` compiles (and fails if it cannot); ``auto`` compiles when a C compiler is found and
builds the pure-Python wheel otherwise; unset or ``0`` builds the pure-Python wheel (``SENTINEL_LAB_COMPILE_OPT``:
the C optimisation level, 3 unless set). Editable installs are always
pure Python. The compiled modules are the same sources: the ``.py`` files stay in the wheel beside their
extension modules (which Python imports first), and nothing is written into the source tree.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ENV = "SENTINEL_LAB_COMPILE"
#: The C optimisation level (mypyc's ``opt_level``, 0-3): 3 by default; CI uses 1, which compiles in less than half
#: the time for a core about 7% slower.
OPT_ENV = "SENTINEL_LAB_COMPILE_OPT"
#: The modules compiled: normalisation, the analysis and its views, the checks, the verifier and the verdict
#: records (everything ``Verifier.verify`` runs per call). Paths relative to the project root.
COMPILED = (
    "sentinel_lab/_analysis",
    "sentinel_lab/_text",
    "sentinel_lab/_checks",
    "sentinel_lab/_verify",
    "sentinel_lab/_core/verdict.py",
    "sentinel_lab/_vocab/__init__.py",
)
#: What the compile step needs besides hatchling (installed into the isolated build environment only when asked).
COMPILE_REQUIRES = ("mypy>=1.10", "setuptools>=69")


def _mode() -> str:
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("", "0", "no", "false", "off"):
        return "off"
    if value == "auto":
        return "auto"
    if value in ("1", "yes", "true", "on"):
        return "on"
    raise ValueError(f"{ENV}={value!r}: expected 1, 0 or auto")


def _have_c_compiler() -> bool:
    """True when the C compiler Python's build configuration names (``CC``) is on PATH."""
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    return bool(cc) and shutil.which(cc[0]) is not None


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds mypyc-built extension modules to a standard wheel when ``SENTINEL_LAB_COMPILE`` asks for them."""

    def dependencies(self) -> list[str]:
        return list(COMPILE_REQUIRES) if _mode() != "off" else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        mode = _mode()
        if version == "editable" or mode == "off":
            return
        if mode == "auto" and not _have_c_compiler():
            self.app.display_warning(f"{ENV}=auto: no C compiler found, building the pure-Python wheel")
            return
        self._work = tempfile.mkdtemp(prefix="sentinel-lab-mypyc-")
        try:
            built = self._compile(Path(self._work))
        except Exception as exc:
            if mode == "on":
                raise
            self.app.display_warning(f"{ENV}=auto: compiling failed ({exc}), building the pure-Python wheel")
            return
        for so in built:
            build_data["force_include"][str(so)] = so.relative_to(Path(self._work) / "lib").as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        self.app.display_info(f"mypyc: {len(built)} extension modules compiled")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work:
            shutil.rmtree(work, ignore_errors=True)

    def _compile(self, work: Path) -> list[Path]:
        """Run mypyc and the C compiler on ``COMPILED`` with every output under ``work``; the extension modules."""
        from mypyc.build import mypycify
        from setuptools import Distribution

        root = Path(self.root)
        cwd = os.getcwd()
        os.chdir(root)  # mypyc names modules by their path relative to the working directory
        try:
            # Errors in modules outside the compiled set are CI's strict type check's business, not the build's.
            extensions = mypycify(
                ["--follow-imports=silent", "--cache-dir", str(work / "mypy_cache"), *COMPILED],
                opt_level=os.environ.get(OPT_ENV, "3"),
                target_dir=str(work / "c"),
                multi_file=True,
            )
            dist = Distribution({"name": "sentinel-lab", "ext_modules": extensions})
            cmd = dist.get_command_obj("build_ext")
            cmd.build_lib = str(work / "lib")
            cmd.build_temp = str(work / "obj")
            cmd.parallel = os.cpu_count() or 1
            cmd.ensure_finalized()
            cmd.run()
        finally:
            os.chdir(cwd)
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        built = sorted((work / "lib").rglob(f"*{suffix}"))
        if not built:
            raise RuntimeError(f"mypyc produced no extension modules (Python {sys.version.split()[0]})")
        return built
