import type { z } from 'zod';
import { TwinlabError } from '../engine/errors.js';

/**
 * Saved twins are JSON files validated by a zod schema. One reader and one writer for all of them:
 * errors name the file and the first offending field; the text is 2-space JSON with a trailing
 * newline, so the same object always gives the same bytes.
 */
export function parseJsonFile<S extends z.ZodType>(schema: S, text: string, file: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new TwinlabError('INVALID_ARGUMENT', `${file}: not JSON (${(error as Error).message})`, { file });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') || '(root)';
    throw new TwinlabError('INVALID_ARGUMENT', `${file}: ${path}: ${issue?.message ?? 'invalid'}`, { file, field: path });
  }
  return parsed.data as z.infer<S>;
}

export function jsonFileText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
