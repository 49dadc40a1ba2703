/** Reading answers without a server: Retry-After in both its forms, and bodies that are not the envelope. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, ProductAlreadyRegistered, RateLimited, ServerError, apiError, retryAfterSeconds } from "../src/index.js";

const withRetryAfter = (value: string) => new Response(null, { status: 429, headers: { "retry-after": value } });

test("retry_after_in_seconds_is_read_as_is", () => {
  assert.equal(retryAfterSeconds(withRetryAfter("7")), 7);
});

test("retry_after_as_an_http_date_is_the_seconds_until_then", () => {
  const at = new Date(Date.now() + 30_000).toUTCString();
  const seconds = retryAfterSeconds(withRetryAfter(at));
  assert.ok(seconds !== null && seconds >= 28 && seconds <= 31, `got ${seconds}`);
});

test("retry_after_unreadable_or_absent_is_null", () => {
  assert.equal(retryAfterSeconds(withRetryAfter("soon")), null);
  assert.equal(retryAfterSeconds(new Response(null, { status: 429 })), null);
});

test("envelope_error_code_picks_its_class", () => {
  const body = { error_code: "071-102", message: "Product already registered", additional_information: { product_code: "MED-042" } };
  const error = apiError(new Response(null, { status: 409 }), body);
  assert.ok(error instanceof ProductAlreadyRegistered);
  assert.equal(error.message, "409 071-102: Product already registered");
});

test("rate_limited_falls_back_to_the_body_when_retry_after_is_missing", () => {
  const body = { error_code: "071-429", message: "Rate limit exceeded", additional_information: { retry_after_seconds: 12 } };
  const error = apiError(new Response(null, { status: 429 }), body);
  assert.ok(error instanceof RateLimited);
  assert.equal(error.retryAfterSeconds, 12);
});

test("body_that_is_not_the_envelope_keeps_the_status_and_the_text", () => {
  const gateway = apiError(new Response(null, { status: 502, statusText: "Bad Gateway" }), "<html>proxy</html>");
  assert.ok(gateway instanceof ServerError);
  assert.equal(gateway.errorCode, "http-502");
  assert.equal(gateway.message, "502 http-502: <html>proxy</html>");
  const teapot = apiError(new Response(null, { status: 418 }), null);
  assert.ok(teapot instanceof ApiError && !(teapot instanceof ServerError));
  assert.deepEqual(teapot.additionalInformation, {});
});
