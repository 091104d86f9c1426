"""A stand-in for the seed verifier's npm package, for tests of the Node runner where the real one is absent.

It has the seed's documented interface and nothing else: an ES module exporting ``Sentinel`` (constructor
options ``enableIntentVerification``), ``async verify(action, context)`` answering ``{allowed, confidence,
violations: [{policy, reason, severity}], intent, elapsed}``, a process-wide rate limiter reachable as
``Sentinel.policies.rateLimit`` with ``reset()`` that refuses every call past the fifth, and an ``auditLog``
with ``clear()``. Its one check blocks ``rm -rf /`` in any argument; an argument holding ``boom`` makes
``verify()`` throw, as a real package may on input it does not expect.
"""

from __future__ import annotations

import json
from pathlib import Path

_INDEX = """\
let calls = 0;
function rateLimit() { calls += 1; return { pass: calls <= 5, reason: `${calls} calls`, severity: "high" }; }
rateLimit.reset = () => { calls = 0; };
export class Sentinel {
  constructor(config = {}) {
    this.intentOn = config.enableIntentVerification !== false;
    this.auditLog = { entries: [], clear() { this.entries = []; } };
  }
  async verify(action, context = {}) {
    if (JSON.stringify(action.args || {}).includes("boom")) throw new Error("cannot read this call");
    const violations = [];
    if (JSON.stringify(action.args || {}).includes("rm -rf /")) {
      violations.push({ policy: "systemCommands", reason: "destructive command", severity: "critical" });
    }
    const limit = rateLimit();
    if (!limit.pass) violations.push({ policy: "rateLimit", reason: limit.reason, severity: limit.severity });
    this.auditLog.entries.push(action);
    const intent = this.intentOn && !violations.length
      ? { confidence: 0.9, aligned: true, method: "heuristic", reason: "stand-in" } : null;
    return { allowed: !violations.length, confidence: violations.length ? 0 : 1, violations, intent, elapsed: "0ms" };
  }
  static policies = { rateLimit };
}
export default Sentinel;
"""


def make_standin(folder: Path) -> Path:
    """Write the stand-in package (named like the seed) into ``folder``; returns the folder, an npm spec."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"name": "mikoshi-sentinel", "version": "0.0.0-standin", "type": "module", "main": "index.js"}
    (folder / "package.json").write_text(json.dumps(manifest))
    (folder / "index.js").write_text(_INDEX)
    return folder
