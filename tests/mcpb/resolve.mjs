// The server command a host builds from a bundle's manifest and the user's answers, computed by the
// official library (getMcpConfigForManifest): node resolve.mjs <unpacked-bundle-dir> '<user-config-json>'
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";

const [dir, userConfig] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf-8"));
const config = await getMcpConfigForManifest({
  manifest,
  extensionPath: dir,
  systemDirs: { HOME: "/home/user", DESKTOP: "/home/user/Desktop", DOCUMENTS: "/home/user/Documents", DOWNLOADS: "/home/user/Downloads" },
  userConfig: JSON.parse(userConfig),
  pathSeparator: "/",
});
console.log(JSON.stringify(config ?? null));
