/** The errors the client throws: one base class, transport failures, and one class per API error code. */

/** The body of every error the service produces (its contract's section 3). */
export interface ErrorBody {
  error_code: string;
  message: string;
  additional_information: Record<string, unknown>;
  /** Token endpoint errors (RFC 6749 section 5.2) add these. */
  error?: string;
  error_description?: string;
}

/** Base class of everything this client throws. */
export class ProviderProductsError extends Error {
  override name = "ProviderProductsError";
}

/** The server could not be reached, or the connection broke (after the retries). */
export class ConnectionError extends ProviderProductsError {
  override name = "ConnectionError";
}

/** No answer within the timeout (after the retries). */
export class TimeoutError extends ConnectionError {
  override name = "TimeoutError";
}

/** The server answered with an error status; `errorCode` is the contract's code (`071-102`, ...). */
export class ApiError extends ProviderProductsError {
  override name = "ApiError";
  readonly status: number;
  readonly errorCode: string;
  readonly additionalInformation: Record<string, unknown>;
  readonly requestId: string | null;
  readonly response: Response;

  constructor(response: Response, body: ErrorBody) {
    super(`${response.status} ${body.error_code}: ${body.message}`);
    this.status = response.status;
    this.errorCode = body.error_code;
    this.additionalInformation = body.additional_information;
    this.requestId = response.headers.get("x-request-id");
    this.response = response;
  }
}

/** 400 `071-100`: malformed JSON, wrong content type. */
export class BadRequest extends ApiError {
  override name = "BadRequest";
}
/** 404 `071-101`: the code is not in the global catalogue (or is withdrawn, for registration). */
export class ProductNotInCatalogue extends ApiError {
  override name = "ProductNotInCatalogue";
}
/** 409 `071-102`: the product is already registered by this provider. */
export class ProductAlreadyRegistered extends ApiError {
  override name = "ProductAlreadyRegistered";
}
/** 404 `071-103`: the product is not registered by this provider. */
export class ProductNotRegistered extends ApiError {
  override name = "ProductNotRegistered";
}
/** 422 `071-104`: a record references codes the provider has not registered (`productCodes`). */
export class ProductsNotRegistered extends ApiError {
  override name = "ProductsNotRegistered";
  get productCodes(): string[] {
    return (this.additionalInformation.product_codes as string[] | undefined) ?? [];
  }
}
/** 422 `071-105`: a missing or ill-formed field or parameter (`errors` lists `{field, message}`). */
export class ValidationFailed extends ApiError {
  override name = "ValidationFailed";
  get errors(): { field: string; message: string }[] {
    return (this.additionalInformation.errors as { field: string; message: string }[] | undefined) ?? [];
  }
}
/** 409 or 422 `071-106`: an `Idempotency-Key` still in progress, or reused with another request. */
export class IdempotencyConflict extends ApiError {
  override name = "IdempotencyConflict";
}
/** 401 `071-401`, or a refused token request (`invalid_client`, ...). */
export class AuthenticationFailed extends ApiError {
  override name = "AuthenticationFailed";
}
/** 403 `071-403`: the token lacks the scope. */
export class PermissionDenied extends ApiError {
  override name = "PermissionDenied";
}
/** 404 `071-404` (no such route or record) and 405 `071-405`. */
export class NotFound extends ApiError {
  override name = "NotFound";
}
/** 413 `071-413`: the body is larger than the server's limit. */
export class PayloadTooLarge extends ApiError {
  override name = "PayloadTooLarge";
}
/** 429 `071-429`: the rate limit is exhausted; `retryAfterSeconds` says when a request is admitted again. */
export class RateLimited extends ApiError {
  override name = "RateLimited";
  get retryAfterSeconds(): number {
    return retryAfterSeconds(this.response) ?? Number(this.additionalInformation.retry_after_seconds ?? 1);
  }
}
/** 500 `071-500` and 503 `071-503`: the server failed, or a store it needs is unreachable. */
export class ServerError extends ApiError {
  override name = "ServerError";
}

const BY_CODE: Record<string, typeof ApiError> = {
  "071-100": BadRequest,
  "071-101": ProductNotInCatalogue,
  "071-102": ProductAlreadyRegistered,
  "071-103": ProductNotRegistered,
  "071-104": ProductsNotRegistered,
  "071-105": ValidationFailed,
  "071-106": IdempotencyConflict,
  "071-401": AuthenticationFailed,
  "071-403": PermissionDenied,
  "071-404": NotFound,
  "071-405": NotFound,
  "071-413": PayloadTooLarge,
  "071-429": RateLimited,
  "071-500": ServerError,
  "071-503": ServerError,
};

/** Build the error class of an error answer from its response and (already parsed) body. */
export function apiError(response: Response, body: unknown): ApiError {
  const envelope = asErrorBody(response, body);
  const cls = BY_CODE[envelope.error_code] ?? (response.status >= 500 ? ServerError : ApiError);
  return new cls(response, envelope);
}

function asErrorBody(response: Response, body: unknown): ErrorBody {
  if (typeof body === "object" && body !== null && typeof (body as ErrorBody).error_code === "string") {
    const b = body as ErrorBody;
    return { ...b, additional_information: b.additional_information ?? {} };
  }
  // Not the service's envelope (a proxy's page, say): keep the status, say what came.
  const text = typeof body === "string" ? body.slice(0, 200) : response.statusText;
  return { error_code: `http-${response.status}`, message: text || "error", additional_information: {} };
}

/** The `Retry-After` header in whole seconds (delta-seconds or an HTTP date), or null. */
export function retryAfterSeconds(response: Response): number | null {
  const value = response.headers.get("retry-after");
  if (value === null) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
