/** The client and a server whose rate-limit store is down: 503 with Retry-After, retried, then raised. */

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { ServerError, createClient } from "../src/index.js";
import { type Credentials, type Server, startServer } from "./server.js";

let server: Server;
let credentials: Credentials;

before(async () => {
  // Nothing listens on port 1: with the "closed" failure mode every limited request answers 503.
  server = await startServer({ redis_url: "redis://127.0.0.1:1/0", rate_limit_failure_mode: "closed" });
  credentials = await server.createClient();
});
after(async () => {
  await server?.stop();
});

test("unavailable_store_is_retried_after_retry_after_then_raises_server_error", async () => {
  let attempts = 0;
  const api = createClient({
    baseUrl: server.baseUrl,
    clientId: credentials.client_id,
    clientSecret: credentials.client_secret,
    retry: { maxRetries: 2 },
    fetch: (request) => {
      attempts++;
      return fetch(request);
    },
  });
  const started = Date.now();
  await assert.rejects(api.token(), (error: unknown) => {
    assert.ok(error instanceof ServerError);
    assert.equal(error.status, 503);
    assert.equal(error.errorCode, "071-503");
    assert.equal(error.response.headers.get("retry-after"), "1");
    return true;
  });
  assert.equal(attempts, 3);
  // Two waits of Retry-After (1 s each) between the three attempts.
  assert.ok(Date.now() - started >= 1900, `gave up after ${Date.now() - started} ms`);
});
