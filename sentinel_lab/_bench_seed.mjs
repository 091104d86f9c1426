// The seed verifier's side of `sentinel-lab bench verify --against mikoshi`: a long-lived Node process that
// loads the installed seed package and answers one JSON line per request on stdin with one JSON line on stdout.
//
//   node _bench_seed.mjs PREFIX PACKAGE     (PACKAGE installed under PREFIX/node_modules by npm)
//   -> {"op":"verify","mode":"same_work"|"defaults","action":{...},"context":{...}}
//   <- {"ok":true,"us":<microseconds inside verify()>,"verdict":{allowed,confidence,violations,intent}}
//
// "same_work" is the seed with its goal-intent verifier off (ours runs none without a goal); "defaults" is the
// seed as it is constructed with no options. The time is taken here, around the awaited verify() alone, so the
// pipe between the two processes is not counted. Before every call, untimed, the seed's process-wide
// rate-limit history and its in-memory audit list are emptied: its default of 5 calls a second would refuse
// nearly every benchmark call, and neither list may grow through the run.

import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const [prefix, packageName] = process.argv.slice(2);

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

async function load() {
  const require = createRequire(join(prefix, "package.json"));
  const entry = require.resolve(packageName);
  const mod = await import(pathToFileURL(entry).href);
  const Sentinel = mod.Sentinel || mod.default;
  if (typeof Sentinel !== "function") {
    throw new Error(`${packageName} exports no Sentinel class`);
  }
  return Sentinel;
}

function shape(verdict) {
  const violations = Array.isArray(verdict.violations) ? verdict.violations : [];
  return {
    allowed: verdict.allowed === true,
    confidence: typeof verdict.confidence === "number" ? verdict.confidence : null,
    violations: violations.map((v) => ({ policy: String(v.policy), reason: String(v.reason), severity: String(v.severity) })),
    intent: verdict.intent ?? null,
  };
}

function forget(Sentinel, sentinel) {
  const limiter = Sentinel.policies && Sentinel.policies.rateLimit;
  if (limiter && typeof limiter.reset === "function") limiter.reset();
  if (sentinel.auditLog && typeof sentinel.auditLog.clear === "function") sentinel.auditLog.clear();
}

async function main() {
  let Sentinel;
  try {
    Sentinel = await load();
  } catch (err) {
    reply({ ok: false, error: `cannot load ${packageName}: ${err.message}` });
    process.exit(1);
  }
  const verifiers = {
    same_work: new Sentinel({ enableIntentVerification: false }),
    defaults: new Sentinel(),
  };
  reply({ ok: true, ready: true, node: process.version });
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let request;
    try {
      request = JSON.parse(line);
    } catch (err) {
      reply({ ok: false, error: `unreadable request: ${err.message}` });
      continue;
    }
    const sentinel = verifiers[request.mode] || verifiers.same_work;
    try {
      forget(Sentinel, sentinel);
      const t0 = process.hrtime.bigint();
      const verdict = await sentinel.verify(request.action, request.context || {});
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      reply({ ok: true, us, verdict: shape(verdict) });
    } catch (err) {
      reply({ ok: false, error: `verify() raised: ${err && err.message}` });
    }
  }
}

main();
