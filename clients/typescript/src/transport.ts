/** Sending one request: the bearer token, an Idempotency-Key on POST, a timeout, and retries. */

import { ConnectionError, ProviderProductsError, TimeoutError, retryAfterSeconds } from "./errors.js";

/** How failed attempts are retried. */
export interface RetryPolicy {
  /** Attempts after the first (default 2); 0 turns retries off. */
  maxRetries: number;
  /** First backoff step for 5xx answers and connection failures (default 500 ms), doubled per attempt. */
  initialDelayMs: number;
  /** Cap of one backoff step (default 8 s). */
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited for: the 429 or 503 is returned (default 60 s). */
  maxRetryAfterSeconds: number;
}

/** The rate-limit headers of the last API answer (`X-RateLimit-*`). */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until a slot frees. */
  resetSeconds: number;
}

/** Where a request's bearer token comes from. */
export interface TokenProvider {
  token(): Promise<string>;
  /** Forget the cached token (the server refused it). */
  invalidate(): void;
}

/** What a Transport needs; every field has a default in `createClient`. */
export interface TransportOptions {
  fetch: (request: Request) => Promise<Response>;
  timeoutMs: number;
  retry: RetryPolicy;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /** Adds `Authorization: Bearer` and Idempotency-Key headers; absent for the token request itself. */
  tokens?: TokenProvider;
}

const RETRIED_STATUSES = new Set([429, 500, 502, 503, 504]);

/** Sends requests with retries and keeps the rate-limit state of the last answer. */
export class Transport {
  lastRateLimit: RateLimitState | null = null;

  constructor(private readonly options: TransportOptions) {}

  /** Send `request` until it gets an answer worth returning, or the retries run out. */
  async send(request: Request): Promise<Response> {
    const headers = new Headers(request.headers);
    // One key for every attempt, so that a retried POST runs at most once on the server.
    if (this.options.tokens && request.method === "POST" && !headers.has("idempotency-key")) {
      headers.set("idempotency-key", crypto.randomUUID());
    }
    const body = request.body === null ? undefined : await request.arrayBuffer();
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      if (this.options.tokens) headers.set("authorization", `Bearer ${await this.options.tokens.token()}`);
      const init: RequestInit = { method: request.method, headers, body, redirect: request.redirect };
      let response: Response;
      try {
        response = await this.attempt(new Request(request.url, init), request.signal);
      } catch (error) {
        if (error instanceof ProviderProductsError && attempt < this.options.retry.maxRetries) {
          await this.options.sleep(this.backoff(attempt));
          continue;
        }
        throw error;
      }
      this.record(response);
      if (response.status === 401 && this.options.tokens && !refreshed) {
        // A token can be revoked (a rotated secret) before it expires: fetch a new one, once.
        refreshed = true;
        this.options.tokens.invalidate();
        await response.body?.cancel();
        attempt--;
        continue;
      }
      const delay = await this.retryDelay(response, attempt);
      if (delay === null) return response;
      await response.body?.cancel();
      await this.options.sleep(delay);
    }
  }

  /** One attempt, bounded by the timeout; transport failures become ConnectionError or TimeoutError. */
  private async attempt(request: Request, callerSignal: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    try {
      return await this.options.fetch(new Request(request, { signal: AbortSignal.any([callerSignal, timeout]) }));
    } catch (error) {
      if (callerSignal.aborted) throw error; // the caller's own abort is not retried
      if (timeout.aborted) {
        throw new TimeoutError(`no answer from ${request.url} within ${this.options.timeoutMs} ms`, { cause: error });
      }
      const reason = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new ConnectionError(`cannot reach ${request.url}: ${reason}`, { cause: error });
    }
  }

  /** Milliseconds to wait before retrying `response`, or null to return it. */
  private async retryDelay(response: Response, attempt: number): Promise<number | null> {
    const { retry } = this.options;
    if (attempt >= retry.maxRetries) return null;
    const inProgress = response.status === 409 && (await isInProgress(response));
    if (!inProgress && !RETRIED_STATUSES.has(response.status)) return null;
    const after = retryAfterSeconds(response);
    if (after !== null) return after <= retry.maxRetryAfterSeconds ? after * 1000 : null;
    return inProgress ? 1000 : this.backoff(attempt);
  }

  /** Exponential backoff with jitter: between half and all of `initial * 2^attempt`, capped. */
  private backoff(attempt: number): number {
    const { initialDelayMs, maxDelayMs } = this.options.retry;
    const step = Math.min(maxDelayMs, initialDelayMs * 2 ** attempt);
    return step / 2 + (step / 2) * this.options.random();
  }

  private record(response: Response): void {
    const limit = response.headers.get("x-ratelimit-limit");
    const remaining = response.headers.get("x-ratelimit-remaining");
    const reset = response.headers.get("x-ratelimit-reset");
    if (limit !== null && remaining !== null && reset !== null) {
      this.lastRateLimit = { limit: Number(limit), remaining: Number(remaining), resetSeconds: Number(reset) };
    }
  }
}

/** Whether a 409 is `071-106` "the first request with this Idempotency-Key is still running". */
async function isInProgress(response: Response): Promise<boolean> {
  try {
    const body = (await response.clone().json()) as { error_code?: string; additional_information?: { reason?: string } };
    return body.error_code === "071-106" && body.additional_information?.reason === "in_progress";
  } catch {
    return false;
  }
}
