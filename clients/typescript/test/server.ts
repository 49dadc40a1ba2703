/**
 * A real `provider-products serve` for the tests: a fresh SQLite database in a temporary folder, on a
 * free loopback port, with OAuth clients made by `provider-products clients create` (so each test can
 * have its own rate limit). The command is PROVIDER_PRODUCTS_CLI, else `provider-products` on PATH.
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const CLI = process.env.PROVIDER_PRODUCTS_CLI ?? "provider-products";
const STARTUP_TIMEOUT_MS = 60_000;

/** Credentials of an OAuth client, as `clients create --json` prints them. */
export interface Credentials {
  client_id: string;
  client_secret: string;
  provider_slug: string;
  scopes: string[];
}

/** A running server and how to make clients on it. */
export interface Server {
  baseUrl: string;
  /** A new OAuth client of `provider` (created when missing), optionally with its own rate limit. */
  createClient(options?: { provider?: string; rateLimit?: string; scopes?: string }): Promise<Credentials>;
  /** Run `provider-products ARGS` on this server's database (`clients disable ID`, ...). */
  admin(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** The settings of every command: this database only (plus `settings`), whatever the caller's environment says. */
function environment(dir: string, settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("PROVIDER_PRODUCTS_")) env[key] = value;
  }
  env.PROVIDER_PRODUCTS_DATABASE_URL = `sqlite:///${join(dir, "pp.db")}`;
  env.PROVIDER_PRODUCTS_LOG_REQUESTS = "false";
  for (const [key, value] of Object.entries(settings)) env[`PROVIDER_PRODUCTS_${key.toUpperCase()}`] = value;
  return env;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function waitUntilUp(child: ChildProcess, baseUrl: string, logs: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${logs()}`);
    // Only trust /healthz once this process says it holds the port.
    if (logs().includes(`Uvicorn running on ${baseUrl}`)) {
      try {
        if ((await fetch(`${baseUrl}/healthz`)).status === 200) return;
      } catch {
        // not listening yet
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`server not up after ${STARTUP_TIMEOUT_MS} ms:\n${logs()}`);
}

/** Start `serve` on a fresh sandbox database, with `settings` (`{ redis_url: ... }`), and wait until it answers. */
export async function startServer(settings: Record<string, string> = {}): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "pp-ts-"));
  const env = environment(dir, settings);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn(CLI, ["serve", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: dir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await waitUntilUp(child, baseUrl, () => output);
  const providers = new Set(["sandbox-provider"]);
  return {
    baseUrl,
    async createClient({ provider = "sandbox-provider", rateLimit, scopes } = {}) {
      if (!providers.has(provider)) {
        await run(CLI, ["providers", "create", provider, "--name", provider], { env, cwd: dir });
        providers.add(provider);
      }
      const args = ["clients", "create", "--provider", provider, "--json"];
      if (rateLimit !== undefined) args.push("--rate-limit", rateLimit);
      if (scopes !== undefined) args.push("--scopes", scopes);
      const { stdout } = await run(CLI, args, { env, cwd: dir });
      return JSON.parse(stdout) as Credentials;
    },
    async admin(...args) {
      return (await run(CLI, args, { env, cwd: dir })).stdout;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        const stuck = setTimeout(() => child.kill("SIGKILL"), 20_000);
        await exited;
        clearTimeout(stuck);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
