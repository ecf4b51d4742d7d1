/**
 * The one error class of twinlab. Every layer throws `TwinlabError` with a code from the fixed
 * vocabulary below, so the CLI can map codes to exit codes and the server to HTTP statuses.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  INVALID_ACTION: 'INVALID_ACTION',
  INVALID_STATE: 'INVALID_STATE',
  INVALID_SPEC: 'INVALID_SPEC',
  INTEGRATION_FAILED: 'INTEGRATION_FAILED',
  NOT_FOUND: 'NOT_FOUND',
  UNAUTHORIZED: 'UNAUTHORIZED',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/**
 * What each code means to the outside world, in one table: the HTTP status the server answers with
 * and the exit code of the CLI (2 = bad usage or input, 1 = the work itself failed).
 */
export const ERROR_OUTCOMES = {
  INVALID_ARGUMENT: { http: 400, exit: 2 },
  INVALID_ACTION: { http: 400, exit: 2 },
  INVALID_STATE: { http: 409, exit: 1 },
  INVALID_SPEC: { http: 400, exit: 2 },
  INTEGRATION_FAILED: { http: 500, exit: 1 },
  NOT_FOUND: { http: 404, exit: 2 },
  UNAUTHORIZED: { http: 401, exit: 2 },
  CONFLICT: { http: 409, exit: 1 },
  PAYLOAD_TOO_LARGE: { http: 413, exit: 2 },
  INTERNAL: { http: 500, exit: 1 },
} as const satisfies Record<ErrorCode, { http: number; exit: 1 | 2 }>;

/** The HTTP status and CLI exit code of an error code (an unknown code counts as INTERNAL). */
export function errorOutcome(code: string): { http: number; exit: 1 | 2 } {
  return isErrorCode(code) ? ERROR_OUTCOMES[code] : ERROR_OUTCOMES.INTERNAL;
}

export class TwinlabError extends Error {
  override readonly name = 'TwinlabError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isTwinlabError(error: unknown): error is TwinlabError {
  return error instanceof TwinlabError;
}

/** Short, stable rendering of a value for error messages (never throws, never huge). */
export function describeValue(value: unknown, maxLength = 80): string {
  let text: string;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    text = `${value.constructor.name}[${Array.from(value as unknown as ArrayLike<number>).join(', ')}]`;
  } else if (typeof value === 'string') {
    text = JSON.stringify(value);
  } else if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    text = String(value);
  } else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}
