/** The OAuth2 client-credentials flow: fetch a token, cache it, renew it before it expires. */

import { apiError } from "./errors.js";
import type { TokenProvider, Transport } from "./transport.js";

/** A cached access token and the moment (ms since the epoch) after which it is renewed. */
interface CachedToken {
  value: string;
  renewAt: number;
}

/** What the token endpoint answers (CONTRACT section 2). */
interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

/** Tokens for one OAuth client, fetched on first use and shared by concurrent requests. */
export class ClientCredentials implements TokenProvider {
  private cached: CachedToken | null = null;
  private pending: Promise<string> | null = null;

  constructor(
    private readonly transport: Transport,
    private readonly options: {
      baseUrl: string;
      clientId: string;
      clientSecret: string;
      scope?: string;
      now: () => number;
    },
  ) {}

  /** The current token; fetch one when there is none or it is about to expire. */
  async token(): Promise<string> {
    if (this.cached !== null && this.options.now() < this.cached.renewAt) return this.cached.value;
    // Concurrent callers wait for the same request: one token request, not one per caller.
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** Forget the cached token, so that the next request fetches a new one. */
  invalidate(): void {
    this.cached = null;
  }

  private async fetchToken(): Promise<string> {
    const { baseUrl, clientId, clientSecret, scope } = this.options;
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (scope !== undefined) form.set("scope", scope);
    // RFC 6749 section 2.3.1: each part form-urlencoded, then Basic (ASCII by then, so btoa is exact).
    const basic = btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`);
    const request = new Request(`${baseUrl}/v1/oauth/token`, {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, accept: "application/json" },
      body: form,
    });
    const started = this.options.now();
    const response = await this.transport.send(request);
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: apiError keeps the text
    }
    if (!response.ok) throw apiError(response, body);
    const token = body as TokenResponse;
    // Renew at 90% of the lifetime (counted from before the request), never at the last second.
    this.cached = { value: token.access_token, renewAt: started + token.expires_in * 900 };
    return token.access_token;
  }
}
