import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { TwinlabError } from '../engine/errors.js';

/**
 * Bearer-token auth for mutating endpoints. The token is generated on first start into
 * `<data>/server-token` (mode 0600; an existing file with looser permissions is chmod-ed to 0600 with a
 * warning) and printed only when generated; `--token` sets it explicitly. Reads are open to
 * loopback clients only, unless the server is configured with `publicReads`.
 */
export const TOKEN_FILE = 'server-token';

export interface LoadedToken {
  token: string;
  /** True when the token was generated just now (the only time it is printed). */
  created: boolean;
  /** The token file, or undefined when the token was given with --token. */
  file: string | undefined;
  /** Things the operator should hear about (e.g. a token file that was readable by others). */
  warnings: string[];
}

export function loadOrCreateToken(dataDir: string, explicit?: string): LoadedToken {
  if (explicit !== undefined) {
    if (explicit.length < 16) throw new TwinlabError('INVALID_ARGUMENT', '--token must be at least 16 characters');
    return { token: explicit, created: false, file: undefined, warnings: [] };
  }
  const file = join(dataDir, TOKEN_FILE);
  if (existsSync(file)) {
    const warnings: string[] = [];
    // A token file others can read hands them the mutating API: tighten it rather than refuse to start.
    const mode = statSync(file).mode & 0o777;
    if (process.platform !== 'win32' && mode !== 0o600) {
      chmodSync(file, 0o600);
      warnings.push(`${file} had mode ${mode.toString(8).padStart(4, '0')}; changed it to 0600 (the token grants the mutating API)`);
    }
    const token = readFileSync(file, 'utf8').trim();
    if (token.length < 16) throw new TwinlabError('INVALID_ARGUMENT', `${file} holds a token shorter than 16 characters; delete the file to generate a new token`);
    return { token, created: false, file, warnings };
  }
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, created: true, file, warnings: [] };
}

export function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function bearerTokenOf(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
  return match?.[1]?.trim();
}

export function bearerToken(req: Request): string | undefined {
  return bearerTokenOf(req.get('authorization'));
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

export function requireToken(token: string) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const given = bearerToken(req);
    if (!given || !sameToken(given, token)) {
      next(new TwinlabError('UNAUTHORIZED', 'this endpoint needs "Authorization: Bearer <token>" (the token printed at server start, stored in <data>/server-token)'));
      return;
    }
    next();
  };
}

export function restrictReads(token: string, publicReads: boolean) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const given = bearerToken(req);
    if (publicReads || isLoopback(req.socket.remoteAddress) || (given && sameToken(given, token))) {
      next();
      return;
    }
    next(new TwinlabError('UNAUTHORIZED', 'reads from non-loopback clients need a bearer token (or start the server with --public-reads)'));
  };
}
