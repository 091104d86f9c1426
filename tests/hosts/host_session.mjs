// One host session of the official TypeScript client (@modelcontextprotocol/sdk over StdioClientTransport, or
// StreamableHTTPClientTransport when the plan names a URL).
// Why: tests/mcp/test_reference_hosts.py compares what this host sees directly and through sentinel-lab's proxy
// and gateway.
// Usage: node host_session.mjs '<json plan>'; the plan is {"command", "args", "steps": [...]} or {"url", "steps"};
// the record of every step (result or error, plus the server requests and notifications it caused) is printed as
// one JSON line.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const plan = JSON.parse(process.argv[2]);
const seen = { sampling: [], elicitation: [], logging: [] };
const client = new Client(
  { name: "sentinel-lab-host-test", version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: { form: {} } } },
);
client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
  seen.sampling.push(request.params);
  return { role: "assistant", model: "test-model", content: { type: "text", text: plan.samplingReply } };
});
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  seen.elicitation.push(request.params);
  return { action: "accept", content: plan.elicitationReply };
});

client.setNotificationHandler(LoggingMessageNotificationSchema, async (notification) => {
  seen.logging.push(notification.params);
});

const transport = plan.url
  ? new StreamableHTTPClientTransport(new URL(plan.url))
  : new StdioClientTransport({ command: plan.command, args: plan.args, stderr: "ignore" });
const timeout = { timeout: 120000 };
const record = {};

async function step(s) {
  switch (s.kind) {
    case "initialize":
      return {
        capabilities: client.getServerCapabilities(),
        serverInfo: client.getServerVersion(),
        instructions: client.getInstructions() ?? null,
      };
    case "request": {
      // The client's own method for each request, so its result schema is the one the host validates against.
      const methods = {
        "tools/list": (p) => client.listTools(p, timeout),
        "prompts/list": (p) => client.listPrompts(p, timeout),
        "prompts/get": (p) => client.getPrompt(p, timeout),
        "resources/list": (p) => client.listResources(p, timeout),
        "resources/read": (p) => client.readResource(p, timeout),
        "resources/templates/list": (p) => client.listResourceTemplates(p, timeout),
        "completion/complete": (p) => client.complete(p, timeout),
        "logging/setLevel": (p) => client.setLoggingLevel(p.level, timeout),
      };
      return await methods[s.method](s.params);
    }
    case "call": {
      const progress = [];
      const options = { ...timeout };
      if (s.progress) options.onprogress = (p) => progress.push(p);
      const result = await client.callTool({ name: s.name, arguments: s.arguments }, undefined, options);
      return s.progress ? { result, progress } : result;
    }
    case "logging": {
      // Start the server's simulated logging (it sends one message at once), wait for it, stop it again.
      await client.callTool({ name: s.name, arguments: {} }, undefined, timeout);
      for (let waited = 0; seen.logging.length === 0; waited += 50) {
        if (waited > 60000) throw new Error("no notifications/message within 60 s");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await client.callTool({ name: s.name, arguments: {} }, undefined, timeout);
      return { first: seen.logging[0] };
    }
    case "cancel": {
      // Start a long call, abort it after its first progress notification, then check the session still answers.
      const controller = new AbortController();
      let first;
      const started = new Promise((resolve) => (first = resolve));
      const pending = client
        .callTool({ name: s.name, arguments: s.arguments }, undefined, {
          ...timeout,
          signal: controller.signal,
          onprogress: () => first(),
        })
        .then(
          () => "completed",
          (e) => (controller.signal.aborted ? "aborted" : `error: ${e}`),
        );
      await started;
      controller.abort("host cancelled");
      const outcome = await pending;
      const after = await client.callTool({ name: s.after.name, arguments: s.after.arguments }, undefined, timeout);
      return { outcome, after };
    }
    default:
      throw new Error(`unknown step ${s.kind}`);
  }
}

await client.connect(transport, timeout);
for (const s of plan.steps) {
  try {
    record[s.id] = { ok: await step(s) };
  } catch (e) {
    record[s.id] = { error: { code: e.code ?? null, message: String(e.message ?? e) } };
  }
}
record.seen = seen;
await client.close();
process.stdout.write(JSON.stringify(record) + "\n");
