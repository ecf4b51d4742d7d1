import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { InlineExecutor } from '../../experiments/executor.js';
import { type RunningServer, startServer } from '../../server/index.js';

export const TOKEN = 'test-token-0123456789abcdef';

export async function testServer(options: { publicReads?: boolean; pollMs?: number; host?: string } = {}): Promise<RunningServer & { dir: string; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'twinlab-server-'));
  const server = await startServer({ dataDir: dir, port: 0, token: TOKEN, executor: new InlineExecutor(), publicReads: options.publicReads, pollMs: options.pollMs ?? 10, host: options.host });
  return Object.assign(server, {
    dir,
    async cleanup() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

// biome-ignore lint/suspicious/noExplicitAny: tests read response fields directly and assert them
type Json = any;

export async function request(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: Json }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json };
}

export function socketClient(url: string, options: { headers?: Record<string, string>; token?: string } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: options.headers, auth: options.token ? { token: options.token } : undefined });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

/**
 * A request with headers fetch() will not send (Host) or a websocket upgrade; resolves with the
 * status and body, or with `upgraded` when the server switched protocols.
 */
export function rawRequest(port: number, path: string, headers: Record<string, string>, host = '127.0.0.1'): Promise<{ status: number; body: string; upgraded: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path, method: 'GET', headers, setHost: headers.host === undefined });
    req.once('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: '', upgraded: true });
    });
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, upgraded: false }));
    });
    req.once('error', reject);
    req.end();
  });
}

export const WEBSOCKET_UPGRADE = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };

export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const TRIAL_SPEC = {
  kind: 'trial',
  name: 'api test trial',
  seed: 5,
  cohort: { twin: 'glucose', population: 'adult', size: 2 },
  arms: [
    { name: 'basal', policy: 'glucose/basal' },
    { name: 'bb', policy: 'glucose/basal-bolus' },
  ],
  duration: { days: 0.25 },
  endpoints: { primary: ['tir'], secondary: ['tbr70'] },
};
