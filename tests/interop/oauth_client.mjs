// Sign in with Close from the official TypeScript SDK's OAuth client. Usage:
//   node oauth_client.mjs <mcp url> [scope-choice]
// The SDK discovers the metadata, registers, sends the "user" to /authorize; this script plays the
// person with fetch (it submits each consent page's form: close-mcp's, then the sandbox's Close page),
// hands the code back with finishAuth, reconnects and calls tools. Prints one JSON line.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const [target, scopeChoice] = process.argv.slice(2);
const REDIRECT = "http://127.0.0.1:9/ts-callback";

class MemoryProvider {
  constructor() { this.pages = []; }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return {
      client_name: "ts-interop",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.savedTokens; }
  saveTokens(tokens) { this.savedTokens = tokens; }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
  saveCodeVerifier(verifier) { this.verifier = verifier; }
  codeVerifier() { return this.verifier; }
}

const unescape = (s) => s.replaceAll("&quot;", '"').replaceAll("&#x27;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");

async function signIn(provider) {
  let response = await fetch(provider.authorizationUrl, { redirect: "manual" });
  for (let i = 0; i < 12; i++) {
    if (response.status === 302 || response.status === 303) {
      const location = new URL(response.headers.get("location"), response.url || provider.authorizationUrl).toString();
      if (location.startsWith(REDIRECT)) return new URL(location).searchParams;
      response = await fetch(location, { redirect: "manual" });
      continue;
    }
    const html = await response.text();
    const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(html);
    if (!form) throw new Error(`unexpected page ${response.status}: ${html.slice(0, 200)}`);
    const url = new URL(unescape(form[1]), response.url);
    provider.pages.push(url.pathname);
    const body = new URLSearchParams();
    for (const m of form[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) body.set(m[1], unescape(m[2]));
    body.set("decision", "allow");
    if (url.pathname.startsWith("/oauth2/")) body.set("organization", "0");
    else if (scopeChoice) body.set("scope", scopeChoice);
    response = await fetch(url, { method: "POST", body, redirect: "manual" });
  }
  throw new Error("too many redirects");
}

const provider = new MemoryProvider();
const client = new Client({ name: "ts-interop-oauth", version: "1.0.0" });
let first = new StreamableHTTPClientTransport(new URL(target), { authProvider: provider });
let unauthorized = false;
try {
  await client.connect(first);
} catch (error) {
  if (!(error instanceof UnauthorizedError)) throw error;
  unauthorized = true;
}
const landed = await signIn(provider);
await first.finishAuth(landed.get("code"));
await client.connect(new StreamableHTTPClientTransport(new URL(target), { authProvider: provider }));
const { tools } = await client.listTools();
const page = await client.callTool({ name: "list_leads", arguments: { limit: 2 } });
console.log(JSON.stringify({
  unauthorized,
  pages: provider.pages,
  scope: provider.savedTokens?.scope ?? null,
  tokenPrefix: (provider.savedTokens?.access_token ?? "").slice(0, 8),
  tools: tools.length,
  allReadOnly: tools.every((t) => t.annotations?.readOnlyHint === true),
  // the result's data: structuredContent when sent, else its text (the JSON, in the default result form)
  leads: (page.isError ? {} : page.structuredContent ?? JSON.parse(page.content[0].text)).items?.length ?? 0,
  leadError: page.isError ?? false,
}));
await client.close();
