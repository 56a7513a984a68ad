// A second MCP client, written by others: the official TypeScript SDK. Usage:
//   node client.mjs stdio <python> [args...]      (spawns close-mcp over stdio; env passes through)
//   node client.mjs http|sse <url>
// Prints one JSON line summarising what it saw; the Python test checks it.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";

const [kind, target, ...rest] = process.argv.slice(2);
const transport =
  kind === "stdio"
    ? new StdioClientTransport({ command: target, args: rest, env: process.env, stderr: "ignore" })
    : kind === "sse"
      ? new SSEClientTransport(new URL(target))
      : new StreamableHTTPClientTransport(new URL(target));
const client = new Client({ name: "ts-interop", version: "1.0.0" });
await client.connect(transport);
const { tools } = await client.listTools();
const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
// A result's data: its structuredContent when sent (the TS client validates it against any outputSchema),
// else its text, which is the JSON itself in close-mcp's default result form.
const data = (r) => r.structuredContent ?? JSON.parse(r.content[0].text);
const page = await client.callTool({ name: "list_leads", arguments: { limit: 3 } });
const leadId = data(page).items[0].id;
const next = await client.callTool({ name: "list_leads", arguments: { limit: 3, cursor: data(page).next_cursor } });
const note = await client.callTool({ name: "create_note", arguments: { lead_id: leadId, note: `from ${kind} ts client` } });
const bad = await client.callTool({ name: "get_lead", arguments: { lead_id: "../etc/passwd" } });
// The rest of the protocol: resources, prompts, completions, logging.
const caps = client.getServerCapabilities();
const { resources } = await client.listResources();
const { resourceTemplates } = await client.listResourceTemplates();
const pipelines = await client.readResource({ uri: "close://schema/pipelines" });
const { prompts } = await client.listPrompts();
const prompt = await client.getPrompt({ name: "find_leads", arguments: { status: "Qualified", custom_field: "Industry", choice: "Software" } });
const ref = { type: "ref/prompt", name: "find_leads" };
const statuses = await client.complete({ ref, argument: { name: "status", value: "qu" } });
const fields = await client.complete({ ref, argument: { name: "custom_field", value: "ind" } });
const choices = await client.complete({ ref, argument: { name: "choice", value: "s" }, context: { arguments: { custom_field: "Industry" } } });
const users = await client.complete({ ref, argument: { name: "user_name", value: "da" } });
await client.setLoggingLevel("info");
console.log(JSON.stringify({
  protocol: transport.protocolVersion ?? null,
  server: client.getServerVersion(),
  tools: tools.length,
  readOnly: byName.list_leads.annotations.readOnlyHint,
  destructive: byName.delete_lead.annotations.destructiveHint,
  pageCount: data(page).count,
  nextIds: data(next).items.map((i) => i.id),
  firstIds: data(page).items.map((i) => i.id),
  noteId: note.isError ? null : data(note).id ?? null,
  noteError: note.isError ?? false,
  badError: bad.isError ?? false,
  badText: bad.content[0].text,
  capabilities: Object.keys(caps ?? {}).sort(),
  resourceUris: resources.map((r) => r.uri),
  templateCount: resourceTemplates.length,
  pipelinesText: pipelines.contents[0].text,
  promptNames: prompts.map((p) => p.name),
  promptText: prompt.messages[0].content.text,
  statusValues: statuses.completion.values,
  fieldValues: fields.completion.values,
  choiceValues: choices.completion.values,
  userValues: users.completion.values,
  loggingSet: true,
}));
await client.close();
