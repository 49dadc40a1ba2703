/** The client against a real server: token, search, register, 409, every page, errors, retries, 429. */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  AuthenticationFailed,
  ConnectionError,
  ProductAlreadyRegistered,
  ProductNotRegistered,
  ProductNotInCatalogue,
  ProviderProductsClient,
  RateLimited,
  ValidationFailed,
  createClient,
  ok,
} from "../src/index.js";
import { type Credentials, type Server, startServer } from "./server.js";

let server: Server;
let credentials: Credentials;
/** The client most tests share: the token endpoint allows 10 tokens a minute per client id. */
let shared: ProviderProductsClient;
/** Clients with small limits of their own, for the rate-limit tests. */
let strict: Credentials;
let short: Credentials;
let slow: Credentials;

before(async () => {
  // Client records are not cached, so that a disabled client is refused at once.
  server = await startServer({ client_cache_seconds: "0" });
  [credentials, strict, short, slow] = await Promise.all([
    server.createClient({ rateLimit: "1000/minute" }),
    server.createClient({ rateLimit: "3/5 seconds" }),
    server.createClient({ rateLimit: "2/3 seconds" }),
    server.createClient({ rateLimit: "1/minute" }),
  ]);
  shared = client();
});
after(async () => {
  await server?.stop();
});

function client(options: Partial<ConstructorParameters<typeof ProviderProductsClient>[0]> = {}): ProviderProductsClient {
  return createClient({
    baseUrl: server.baseUrl,
    clientId: credentials.client_id,
    clientSecret: credentials.client_secret,
    ...options,
  });
}

function decode(jwt: string): Record<string, unknown> {
  const [, payload] = jwt.split(".");
  return JSON.parse(Buffer.from(payload ?? "", "base64url").toString("utf-8")) as Record<string, unknown>;
}

/** Counts the requests a client sends to each path, passing them on to the real fetch. */
function countingFetch(counts: Map<string, number>): (request: Request) => Promise<Response> {
  return (request) => {
    const path = new URL(request.url).pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    return fetch(request);
  };
}

describe("token", () => {
  test("token_for_valid_credentials_carries_the_clients_provider_and_scopes", async () => {
    const token = await shared.token();
    const claims = decode(token);
    assert.equal(claims.sub, credentials.client_id);
    assert.equal(claims.provider_slug, "sandbox-provider");
    assert.equal(claims.scope, "arc:read arc:write");
  });

  test("token_is_fetched_once_for_concurrent_requests_and_reused", async () => {
    const counts = new Map<string, number>();
    const api = client({ fetch: countingFetch(counts) });
    await Promise.all(Array.from({ length: 5 }, () => ok(api.api.GET("/arc/v1/products", { params: { query: { size: 1 } } }))));
    await ok(api.api.GET("/arc/v1/products/{product_code}", { params: { path: { product_code: "MED-042" } } }));
    assert.equal(counts.get("/v1/oauth/token"), 1);
    assert.equal(counts.get("/arc/v1/products"), 5);
  });

  test("token_with_wrong_secret_raises_authentication_failed", async () => {
    const api = client({ clientSecret: "not-the-secret" });
    await assert.rejects(api.token(), (error: unknown) => {
      assert.ok(error instanceof AuthenticationFailed);
      assert.equal(error.status, 401);
      assert.equal(error.errorCode, "071-401");
      return true;
    });
  });

  test("refused_token_is_renewed_once_then_the_refusal_is_raised", async () => {
    const own = await server.createClient();
    const counts = new Map<string, number>();
    const api = createClient({
      baseUrl: server.baseUrl,
      clientId: own.client_id,
      clientSecret: own.client_secret,
      fetch: countingFetch(counts),
    });
    await ok(api.api.GET("/arc/v1/products", { params: { query: { size: 1 } } }));
    await server.admin("clients", "disable", own.client_id);
    await assert.rejects(ok(api.api.GET("/arc/v1/products", { params: { query: { size: 1 } } })), (error: unknown) => {
      assert.ok(error instanceof AuthenticationFailed);
      assert.equal(error.status, 401);
      return true;
    });
    // The 401 made the client drop its token and ask for a new one, once; that request was refused.
    assert.equal(counts.get("/arc/v1/products"), 2);
    assert.equal(counts.get("/v1/oauth/token"), 2);
  });

  test("narrowed_scope_is_what_the_token_grants", async () => {
    const token = await client({ scope: "arc:read" }).token();
    assert.equal(decode(token).scope, "arc:read");
  });
});

describe("catalogue", () => {
  test("search_without_accents_finds_the_accented_entries_best_first", async () => {
    const page = await ok(
      shared.api.GET("/medical-catalogs/v1/medications", { params: { query: { query: "acetaminofen 500", size: 5 } } }),
    );
    assert.ok(page.page.total_elements >= 1);
    const first = page.content[0];
    assert.ok(first);
    assert.match(first.name, /^Acetaminofén 500 mg/);
    for (const item of page.content) assert.equal(item.product_type, "MEDICATION");
  });

  test("get_unknown_code_raises_product_not_in_catalogue_with_the_envelope", async () => {
    const pending = ok(shared.api.GET("/arc/v1/products/{product_code}", { params: { path: { product_code: "NOPE-1" } } }));
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof ProductNotInCatalogue);
      assert.equal(error.status, 404);
      assert.equal(error.errorCode, "071-101");
      assert.deepEqual(error.additionalInformation, { product_code: "NOPE-1" });
      assert.ok(error.requestId);
      return true;
    });
  });

  test("size_out_of_range_raises_validation_failed_naming_the_field", async () => {
    const pending = ok(shared.api.GET("/arc/v1/products", { params: { query: { size: 500 } } }));
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof ValidationFailed);
      assert.equal(error.errorCode, "071-105");
      assert.deepEqual(
        error.errors.map((e) => e.field),
        ["size"],
      );
      return true;
    });
  });

  test("paginate_catalogue_visits_every_lab_once_in_code_order", async () => {
    const api = shared;
    const first = await ok(api.api.GET("/arc/v1/products", { params: { query: { product_type: "LAB", size: 1 } } }));
    const codes: string[] = [];
    for await (const product of api.paginate("/arc/v1/products", { product_type: "LAB", size: 40 })) {
      assert.equal(product.product_type, "LAB");
      codes.push(product.product_code);
    }
    assert.equal(codes.length, first.page.total_elements);
    assert.equal(new Set(codes).size, codes.length);
    assert.deepEqual(codes, [...codes].sort());
  });
});

// The registry tests share the sandbox provider, so each registers codes no other test touches.
describe("registry", () => {
  test("register_answers_the_catalogue_spelling_and_a_utc_time", async () => {
    const api = shared;
    const { data, response } = await api.api.POST("/arc/v1/providers/products", { body: { product_code: "med-042" } });
    assert.equal(response.status, 201);
    assert.equal(data?.product_code, "MED-042");
    assert.match(data?.registered_at ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(response.headers.get("location"), "/arc/v1/providers/products/MED-042");
    const read = await ok(api.api.GET("/arc/v1/providers/products/{product_code}", { params: { path: { product_code: "MED-042" } } }));
    assert.equal(read.product_code, "MED-042");
  });

  test("register_twice_raises_product_already_registered_without_retrying", async () => {
    const counts = new Map<string, number>();
    const api = client({ fetch: countingFetch(counts) });
    await ok(api.api.POST("/arc/v1/providers/products", { body: { product_code: "LAB-HEMO" } }));
    const pending = ok(api.api.POST("/arc/v1/providers/products", { body: { product_code: "LAB-HEMO" } }));
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof ProductAlreadyRegistered);
      assert.equal(error.status, 409);
      assert.equal(error.errorCode, "071-102");
      assert.deepEqual(error.additionalInformation, { product_code: "LAB-HEMO" });
      return true;
    });
    // Two requests sent: a 409 of another kind than "in progress" is never retried.
    assert.equal(counts.get("/arc/v1/providers/products"), 2);
  });

  test("paginate_registrations_lists_every_registered_code_once", async () => {
    const api = shared;
    const studies = await ok(api.api.GET("/arc/v1/products", { params: { query: { product_type: "IMAGING", size: 23 } } }));
    const wanted = studies.content.map((p) => p.product_code);
    const batch = await ok(api.api.POST("/arc/v1/providers/products/batch", { body: { product_codes: wanted } }));
    assert.equal(batch.counts.registered, 23);
    const seen: string[] = [];
    for await (const item of api.paginate("/arc/v1/providers/products", { product_type: "IMAGING", size: 5 })) {
      seen.push(item.product_code);
    }
    assert.deepEqual(seen, [...wanted].sort());
  });

  test("delete_then_get_raises_product_not_registered", async () => {
    const api = shared;
    const path = { params: { path: { product_code: "MED-SBX-0002" } } };
    await ok(api.api.POST("/arc/v1/providers/products", { body: { product_code: "MED-SBX-0002" } }));
    const { response } = await api.api.DELETE("/arc/v1/providers/products/{product_code}", path);
    assert.equal(response.status, 204);
    await assert.rejects(ok(api.api.GET("/arc/v1/providers/products/{product_code}", path)), (error: unknown) => {
      assert.ok(error instanceof ProductNotRegistered);
      assert.equal(error.errorCode, "071-103");
      return true;
    });
  });
});

describe("retries", () => {
  test("post_whose_answer_is_lost_is_retried_with_the_same_key_and_replayed", async () => {
    const keys: string[] = [];
    let dropped = false;
    // The server does the work, the answer never arrives: the retry must not register twice.
    const lossy = async (request: Request): Promise<Response> => {
      const response = await fetch(request);
      if (new URL(request.url).pathname === "/arc/v1/providers/products") {
        keys.push(request.headers.get("idempotency-key") ?? "");
        if (!dropped) {
          dropped = true;
          await response.body?.cancel();
          throw new TypeError("fetch failed", { cause: new Error("socket hang up") });
        }
      }
      return response;
    };
    const api = client({ fetch: lossy, retry: { initialDelayMs: 10 } });
    const { data, response } = await api.api.POST("/arc/v1/providers/products", { body: { product_code: "MED-SBX-0001" } });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("idempotent-replayed"), "true");
    assert.equal(data?.product_code, "MED-SBX-0001");
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
    assert.match(keys[0] ?? "", /^[0-9a-f-]{36}$/);
  });

  test("unreachable_server_raises_connection_error_after_the_retries", async () => {
    const counts = new Map<string, number>();
    const api = createClient({
      baseUrl: "http://127.0.0.1:9",
      clientId: "x",
      clientSecret: "y",
      fetch: countingFetch(counts),
      retry: { maxRetries: 2, initialDelayMs: 10 },
    });
    await assert.rejects(api.token(), ConnectionError);
    assert.equal(counts.get("/v1/oauth/token"), 3);
  });
});

describe("rate limit", () => {
  const ONE = { params: { path: { product_code: "MED-042" } } } as const;

  test("exhausted_limit_raises_rate_limited_with_retry_after", async () => {
    const own = strict;
    const api = createClient({ baseUrl: server.baseUrl, clientId: own.client_id, clientSecret: own.client_secret, retry: { maxRetries: 0 } });
    for (let i = 0; i < 3; i++) await ok(api.api.GET("/arc/v1/products/{product_code}", ONE));
    assert.deepEqual(api.lastRateLimit && { limit: api.lastRateLimit.limit, remaining: api.lastRateLimit.remaining }, {
      limit: 3,
      remaining: 0,
    });
    await assert.rejects(ok(api.api.GET("/arc/v1/products/{product_code}", ONE)), (error: unknown) => {
      assert.ok(error instanceof RateLimited);
      assert.equal(error.status, 429);
      assert.equal(error.errorCode, "071-429");
      const header = Number(error.response.headers.get("retry-after"));
      assert.ok(header >= 1 && header <= 5, `Retry-After ${header}`);
      assert.equal(error.retryAfterSeconds, header);
      assert.equal(error.additionalInformation.retry_after_seconds, header);
      return true;
    });
  });

  test("rate_limited_request_waits_retry_after_and_is_admitted", async () => {
    const own = short;
    const api = createClient({ baseUrl: server.baseUrl, clientId: own.client_id, clientSecret: own.client_secret });
    await ok(api.api.GET("/arc/v1/products/{product_code}", ONE));
    await ok(api.api.GET("/arc/v1/products/{product_code}", ONE));
    const started = Date.now();
    const product = await ok(api.api.GET("/arc/v1/products/{product_code}", ONE));
    assert.equal(product.product_code, "MED-042");
    // The third request was refused, waited for the Retry-After (at least one second) and went through.
    assert.ok(Date.now() - started >= 900, `admitted after ${Date.now() - started} ms`);
  });

  test("retry_after_longer_than_the_cap_is_not_waited_for", async () => {
    const own = slow;
    const api = createClient({
      baseUrl: server.baseUrl,
      clientId: own.client_id,
      clientSecret: own.client_secret,
      retry: { maxRetryAfterSeconds: 5 },
    });
    await ok(api.api.GET("/arc/v1/products/{product_code}", ONE));
    const started = Date.now();
    await assert.rejects(ok(api.api.GET("/arc/v1/products/{product_code}", ONE)), RateLimited);
    assert.ok(Date.now() - started < 5_000);
  });
});
