/**
 * The provider-products API client: `api` is an openapi-fetch client typed by the types generated from
 * the server's OpenAPI document (src/generated/schema.ts); this layer adds the token flow, retries,
 * paging and typed errors.
 */

import createFetchClient, { type Client } from "openapi-fetch";

import { ClientCredentials } from "./auth.js";
import { apiError } from "./errors.js";
import type { paths } from "./generated/schema.js";
import { type RateLimitState, type RetryPolicy, Transport } from "./transport.js";

export * from "./errors.js";
export type { components, operations, paths } from "./generated/schema.js";
export type { RateLimitState, RetryPolicy } from "./transport.js";

/** How to reach the API and as whom; base URL and credentials default to the PROVIDER_PRODUCTS_* variables. */
export interface ClientOptions {
  /** e.g. `http://127.0.0.1:8000` (PROVIDER_PRODUCTS_BASE_URL). */
  baseUrl?: string;
  /** The OAuth client's id (PROVIDER_PRODUCTS_CLIENT_ID). */
  clientId?: string;
  /** Its secret (PROVIDER_PRODUCTS_CLIENT_SECRET). */
  clientSecret?: string;
  /** Narrow the token's scopes, e.g. `"arc:read"`; all of the client's scopes by default. */
  scope?: string;
  /** Per attempt (default 30 s). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** The fetch to send with (default: the global one). */
  fetch?: (request: Request) => Promise<Response>;
}

/** The paths whose GET answers a page: `{content: [...], page: {...}}`. */
export type PagedPath = {
  [P in keyof paths]: [PageBody<P>] extends [never] ? never : PageBody<P> extends { content: unknown[]; page: unknown } ? P : never;
}[keyof paths];
/** The body of a page of `P`. */
export type PageBody<P extends keyof paths> = paths[P] extends {
  get: { responses: { 200: { content: { "application/json": infer B } } } };
}
  ? B
  : never;
/** One item of a page of `P`. */
export type PageItem<P extends keyof paths> = PageBody<P> extends { content: (infer I)[] } ? I : never;
/** The query parameters of `P` except `page`, which `paginate` walks. */
export type PageQuery<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } }
  ? Omit<NonNullable<Q>, "page">
  : never;

type AnyResult = { data?: unknown; error?: unknown; response: Response };
type LooseGet = (path: string, init: { params: { query: Record<string, unknown> } }) => Promise<AnyResult>;

/** The success body of an openapi-fetch result, or throw the API error class of its error code. */
export async function ok<R extends AnyResult>(result: R | Promise<R>): Promise<Extract<R, { error?: never }>["data"]> {
  const { data, error, response } = await result;
  if (!response.ok) throw apiError(response, error);
  return data as Extract<R, { error?: never }>["data"];
}

/** A client of one provider-products server, as one OAuth client. */
export class ProviderProductsClient {
  /** Every operation of the OpenAPI document, typed: `api.GET("/arc/v1/products", {params: ...})`. */
  readonly api: Client<paths>;
  private readonly transport: Transport;
  private readonly credentials: ClientCredentials;

  constructor(options: ClientOptions = {}) {
    const env = globalThis.process?.env ?? {};
    const baseUrl = (options.baseUrl ?? env.PROVIDER_PRODUCTS_BASE_URL ?? "").replace(/\/+$/, "");
    const clientId = options.clientId ?? env.PROVIDER_PRODUCTS_CLIENT_ID;
    const clientSecret = options.clientSecret ?? env.PROVIDER_PRODUCTS_CLIENT_SECRET;
    if (!/^https?:\/\/[^/]/.test(baseUrl)) throw new TypeError(`baseUrl must start with http:// or https://, got ${JSON.stringify(baseUrl)}`);
    if (!clientId || !clientSecret) throw new TypeError("clientId and clientSecret are required (or PROVIDER_PRODUCTS_CLIENT_ID/_SECRET)");
    const base = {
      fetch: options.fetch ?? ((request: Request) => fetch(request)),
      timeoutMs: options.timeoutMs ?? 30_000,
      retry: { maxRetries: 2, initialDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterSeconds: 60, ...options.retry },
      sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
      random: Math.random,
    };
    this.credentials = new ClientCredentials(new Transport(base), {
      baseUrl,
      clientId,
      clientSecret,
      scope: options.scope,
      now: Date.now,
    });
    this.transport = new Transport({ ...base, tokens: this.credentials });
    this.api = createFetchClient<paths>({ baseUrl, fetch: (request) => this.transport.send(request) });
  }

  /** The rate-limit headers of the last API answer (null before the first). */
  get lastRateLimit(): RateLimitState | null {
    return this.transport.lastRateLimit;
  }

  /** The current access token (fetched and cached as requests need it). */
  token(): Promise<string> {
    return this.credentials.token();
  }

  /** Every item of a list, page after page, fetched lazily: `for await (const p of client.paginate(...))`. */
  async *paginate<P extends PagedPath>(path: P, query?: PageQuery<P>): AsyncGenerator<PageItem<P>, void, undefined> {
    const get = this.api.GET as unknown as LooseGet;
    for (let page = 0; ; page++) {
      const body = (await ok(get(path, { params: { query: { ...query, page } } }))) as {
        content: PageItem<P>[];
        page: { number: number; total_pages: number };
      };
      yield* body.content;
      if (body.page.number + 1 >= body.page.total_pages) return;
    }
  }
}

/** A client for `baseUrl` as the OAuth client `clientId`; see ClientOptions. */
export function createClient(options: ClientOptions = {}): ProviderProductsClient {
  return new ProviderProductsClient(options);
}
