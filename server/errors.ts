import type { NextFunction, Request, Response } from 'express';
import { ZodError } from 'zod';
import { errorOutcome, TwinlabError } from '../engine/errors.js';
import type { ApiErrorBody } from './protocol.js';

/** Maps errors to HTTP statuses (engine/errors.ts ERROR_OUTCOMES) and the one JSON error shape `{ error: { code, message, details? } }`. */
export function zodToTwinlab(error: ZodError, root = 'body'): TwinlabError {
  const issues = error.issues.map((issue) => {
    const path = [root, ...issue.path.map(String)].join('.');
    return `${path}: ${issue.message}`;
  });
  return new TwinlabError('INVALID_ARGUMENT', issues.join('; '), { issues: error.issues.map((i) => ({ path: [root, ...i.path.map(String)].join('.'), message: i.message })) });
}

export function errorBody(error: unknown): { status: number; body: ApiErrorBody } {
  if (error instanceof ZodError) return errorBody(zodToTwinlab(error));
  if (error instanceof TwinlabError) {
    const body: ApiErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details) body.error.details = error.details;
    return { status: errorOutcome(error.code).http, body };
  }
  const e = error as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.too.large') return errorBody(new TwinlabError('PAYLOAD_TOO_LARGE', 'request body exceeds the size limit'));
  if (e?.type === 'entity.parse.failed') return { status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: `body: malformed JSON (${e.message ?? 'parse error'})` } } };
  return errorBody(new TwinlabError('INTERNAL', error instanceof Error ? error.message : String(error)));
}

export function errorHandler(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const { status, body } = errorBody(error);
  res.status(status).json(body);
}
