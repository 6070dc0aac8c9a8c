#!/usr/bin/env node
// A small agent on the official MCP TypeScript SDK (npm @modelcontextprotocol/sdk 1.32.2: Client
// with StreamableHTTPClientTransport, or StdioClientTransport): the same fixed job as
// python_sdk_client.py, so the clients can be compared under the same faults.
//
// The job: list the tools (echo and slow must be there), call echo, call slow. Each step prints
// one JSON line on stdout, {"step", "ok", "seconds", "detail"}; exit 0 when every step succeeded,
// 1 at the first that failed (the steps after it are not tried), 2 for a usage mistake. With
// --keep-going a failed call does not end the job: the next call is made (as an agent tells its
// model the tool failed and goes on), and the exit is 1 if any failed.
//
// The server: the URL (first argument, else $MCPCHAOS_SERVER_URL) of a Streamable HTTP server,
// or --stdio COMMAND (else $MCPCHAOS_SERVER_COMMAND; split on spaces, no shell quoting).
// This SDK line speaks the 2025-11-25 initialize handshake only (no 2026-07-28 server/discover).
//
// Timeouts: --timeout (10 s here) is the SDK's per-request `timeout` option, given to every
// request after the handshake. --timeout 0 keeps the SDK's default, DEFAULT_REQUEST_TIMEOUT_MSEC:
// 60 s. The handshake always has that default: over stdio it waits for the server's process to
// start (a Python server that starts a proxy took over 5 s on a loaded 2-core machine).
//
//   node examples/clients/ts_sdk_client.mjs http://127.0.0.1:8080/mcp
//   node examples/clients/ts_sdk_client.mjs --timeout 3 --slow-seconds 0.5 http://127.0.0.1:8080/mcp
//   node examples/clients/ts_sdk_client.mjs --stdio 'mcpchaos demo-server'
//
// The SDK is found where npm installs it for a project (node_modules beside this file or above
// it), else in this repository's .tools/clients (scripts/clients-setup.sh), else $MCPCHAOS_CLIENTS_DIR.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const USAGE = `usage: ts_sdk_client.mjs [URL] [--stdio COMMAND] [--era legacy|auto] [--timeout SECONDS] [--slow-seconds SECONDS] [--keep-going]

List tools, call echo, call slow, on the official MCP TypeScript SDK client.
  URL                    the Streamable HTTP endpoint (default: $MCPCHAOS_SERVER_URL)
  --stdio COMMAND        a stdio server command instead (default: $MCPCHAOS_SERVER_COMMAND)
  --era legacy|auto      accepted for the same command lines as the other clients; this SDK
                         line speaks the 2025-11-25 handshake only, so both mean initialize
  --timeout SECONDS      per request after the handshake (default 10; 0: the SDK's default, 60 s)
  --slow-seconds SECONDS how long the slow call takes (default 1)
  --keep-going           after a failed call, make the next one (exit 1 if any failed)
examples:
  node ts_sdk_client.mjs http://127.0.0.1:8080/mcp
  node ts_sdk_client.mjs --timeout 3 http://127.0.0.1:8080/mcp
  node ts_sdk_client.mjs --keep-going http://127.0.0.1:8080/mcp`;

function usage(problem) {
  console.error(`${USAGE}\n\nts_sdk_client.mjs: error: ${problem}`);
  process.exit(2);
}

function parse() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        stdio: { type: "string" },
        era: { type: "string", default: "legacy" },
        timeout: { type: "string", default: "10" },
        "slow-seconds": { type: "string", default: "1" },
        "keep-going": { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    usage(error.message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const url = positionals[0] ?? process.env.MCPCHAOS_SERVER_URL;
  const stdio = values.stdio ?? process.env.MCPCHAOS_SERVER_COMMAND;
  if (!url && !stdio) usage("give the server's URL (or set MCPCHAOS_SERVER_URL), or --stdio COMMAND");
  if (!["legacy", "auto"].includes(values.era)) usage(`--era must be legacy or auto, not '${values.era}'`);
  if (values.era === "auto") {
    console.error("ts_sdk_client.mjs: --era auto: SDK 1.x has no 2026-07-28 server/discover; using initialize");
  }
  const timeout = Number(values.timeout);
  const slowSeconds = Number(values["slow-seconds"]);
  if (!(timeout >= 0) || !(slowSeconds >= 0)) usage("--timeout and --slow-seconds must be numbers, not negative");
  return { url, stdio, timeoutMs: timeout * 1000, slowSeconds, keepGoing: values["keep-going"] };
}

async function importSdk(module) {
  const here = dirname(fileURLToPath(import.meta.url));
  const installed = [process.env.MCPCHAOS_CLIENTS_DIR, join(here, "../../.tools/clients")]
    .filter(Boolean)
    .map((dir) => join(dir, "node_modules/@modelcontextprotocol/sdk/dist/esm", module))
    .find((path) => existsSync(path));
  try {
    return await import(`@modelcontextprotocol/sdk/${module}`);
  } catch (error) {
    if (error.code !== "ERR_MODULE_NOT_FOUND" || !installed) throw error;
    return await import(pathToFileURL(installed).href);
  }
}

function report(step, ok, started, detail) {
  const seconds = Math.round(performance.now() - started) / 1000;
  console.log(JSON.stringify({ step, ok, seconds, detail }));
}

function describe(error) {
  const code = error.code !== undefined ? ` (code ${error.code})` : "";
  return `${error.constructor?.name ?? "Error"}${code}: ${error.message}`;
}

function textOf(result) {
  const texts = (result.content ?? []).filter((block) => block.type === "text").map((block) => block.text);
  return (result.isError ? "error: " : "") + texts.join(" ");
}

async function job(args) {
  const { Client } = await importSdk("client/index.js");
  // The SDK's default timeout is used when `timeout` is left out (--timeout 0).
  const options = args.timeoutMs > 0 ? { timeout: args.timeoutMs } : {};
  let transport;
  if (args.url) {
    const { StreamableHTTPClientTransport } = await importSdk("client/streamableHttp.js");
    transport = new StreamableHTTPClientTransport(new URL(args.url));
  } else {
    const { StdioClientTransport } = await importSdk("client/stdio.js");
    const [command, ...rest] = args.stdio.split(" ").filter(Boolean);
    transport = new StdioClientTransport({ command, args: rest, stderr: "inherit" });
  }
  const client = new Client({ name: "mcpchaos-ts-sdk-example", version: "1.0.0" });
  let step = "connect";
  let started = performance.now();
  try {
    await client.connect(transport);
    report(step, true, started, `protocol ${transport.protocolVersion ?? "(stdio)"}`);
    step = "list_tools";
    started = performance.now();
    const names = (await client.listTools(undefined, options)).tools.map((tool) => tool.name).sort();
    const missing = ["echo", "slow"].filter((name) => !names.includes(name));
    report(step, missing.length === 0, started, missing.length ? `missing ${missing}` : names.join(", "));
    if (missing.length) return false;
    step = "echo";
    started = performance.now();
    let echoOk;
    try {
      const echoed = await client.callTool({ name: "echo", arguments: { text: "hello" } }, undefined, options);
      report(step, !echoed.isError, started, textOf(echoed));
      echoOk = !echoed.isError;
    } catch (error) {
      if (!args.keepGoing) throw error;
      report(step, false, started, describe(error));
      echoOk = false;
    }
    if (!echoOk && !args.keepGoing) return false;
    step = "slow";
    started = performance.now();
    const slept = await client.callTool(
      { name: "slow", arguments: { seconds: args.slowSeconds, steps: 2 } },
      undefined,
      options,
    );
    report(step, !slept.isError, started, textOf(slept));
    return echoOk && !slept.isError;
  } catch (error) {
    // What the SDK threw is the finding: say it, exit 1.
    report(step, false, started, describe(error));
    return false;
  } finally {
    await client.close().catch(() => {});
  }
}

const ok = await job(parse());
process.exit(ok ? 0 : 1);
