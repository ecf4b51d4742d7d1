import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { TwinlabError } from '../engine/errors.js';

/**
 * Bearer-token auth for mutating endpoints. The token is generated on first start into
 * `<data>/server-token` (mode 0600) and printed once; `--token` sets it explicitly. Reads are open to
 * loopback clients only, unless the server is configured with `publicReads`.
 */
export const TOKEN_FILE = 'server-token';

export function loadOrCreateToken(dataDir: string, explicit?: string): { token: string; created: boolean } {
  if (explicit !== undefined) {
    if (explicit.length < 16) throw new TwinlabError('INVALID_ARGUMENT', '--token must be at least 16 characters');
    return { token: explicit, created: false };
  }
  const file = join(dataDir, TOKEN_FILE);
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), created: false };
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, created: true };
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function bearerToken(req: Request): string | undefined {
  const header = req.get('authorization');
  const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
  return match?.[1]?.trim();
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
