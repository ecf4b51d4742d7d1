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
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && value in ERROR_CODES;
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
