/** gRPC status code names, indexed by number (google.golang.org/grpc/codes). */
const GRPC_CODES = [
  "OK",
  "Cancelled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
] as const;

/** Options of {@linkcode EtcdError}. */
export interface EtcdErrorOptions {
  /** The endpoint that failed; absent when the failure is not one endpoint's. */
  endpoint?: string;
  /** gRPC status code name, e.g. `Unavailable` or `PermissionDenied`. */
  code?: string;
  cause?: unknown;
}

/** A failure talking to etcd, or a snapshot that does not verify. */
export class EtcdError extends Error {
  override name = "EtcdError";
  /** The endpoint that failed, when one did. */
  readonly endpoint?: string;
  /** gRPC status code name, e.g. `Unavailable`, `PermissionDenied` or `DataLoss`. */
  readonly code?: string;

  constructor(message: string, options: EtcdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.endpoint !== undefined) this.endpoint = options.endpoint;
    if (options.code !== undefined) this.code = options.code;
  }
}

/** The name of a gRPC status code given as number or decimal string; `Code(n)` when unknown. */
export function grpcCodeName(code: number | string): string {
  const number = typeof code === "number" ? code : Number(code);
  return GRPC_CODES[number] ?? `Code(${code})`;
}

// Errors after which the next endpoint is worth a try, with a short reason for the summary when
// all fail; WeakMaps keep that out of the public class and leave the error itself untouched.
const failoverReasons = new WeakMap<Error, string>();
// gRPC failures that say "this endpoint does not speak gRPC here", not "etcd refused".
const protocolErrors = new WeakSet<Error>();

/** Marks `error` as an endpoint failure (down, timed out, 5xx, `Unavailable`) and returns it. */
export function markFailover<E extends Error>(error: E, reason: string = error.message): E {
  failoverReasons.set(error, reason);
  return error;
}

/** True when `error` was marked by {@linkcode markFailover}. */
export function isFailover(error: unknown): boolean {
  return error instanceof Error && failoverReasons.has(error);
}

/** The short reason given to {@linkcode markFailover}, else the message. */
export function failoverReason(error: Error): string {
  return failoverReasons.get(error) ?? error.message;
}

/** Marks `error` as a transport-level gRPC failure after which the gateway may still work. */
export function markProtocol<E extends Error>(error: E, reason?: string): E {
  protocolErrors.add(error);
  return markFailover(error, reason);
}

/** True when `error` was marked by {@linkcode markProtocol}. */
export function isProtocolError(error: unknown): boolean {
  return error instanceof Error && protocolErrors.has(error);
}
