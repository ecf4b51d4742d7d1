import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { TwinlabError } from '../engine/errors.js';
import { isLoopback, sameToken } from './auth.js';

/**
 * Who may talk to the server, checked before express or socket.io see a request:
 *
 * - Host: only the names the server is bound to (127.0.0.1, localhost, [::1], the `--host` value, the
 *   machine's interface addresses when bound to a wildcard, and `--allow-host` names), with the bound
 *   port. A page on attacker.example whose DNS name was re-pointed at 127.0.0.1 (DNS rebinding) sends
 *   `Host: attacker.example:P` and is refused with 421.
 * - Origin: a request that carries one (every browser request except same-origin GETs) must come
 *   from one of those hosts over http; otherwise 403. Clients without an Origin (curl, node) pass.
 * - Reads (REST GETs and socket.io connections): loopback clients, or everyone with `publicReads`, or
 *   whoever presents the token (REST: `Authorization: Bearer`; socket.io: `auth: { token }` or the
 *   same header).
 * - Request-line/header size: URLs over MAX_URL_LENGTH get 414; headers beyond the parser's limit
 *   get 431; both in the one error shape.
 */
export const MAX_URL_LENGTH = 8 * 1024;
/** Node's parser limit (its default is 16 KiB); above MAX_URL_LENGTH so long URLs reach the 414 check. */
export const MAX_HEADER_SIZE = 128 * 1024;

export interface AccessOptions {
  /** The address the server binds (`--host`). */
  host: string;
  /** Extra host names to answer to (`--allow-host`), e.g. the machine's DNS name behind 0.0.0.0. */
  allowedHosts?: readonly string[];
  token: string;
  publicReads: boolean;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

/** Lower-case host name, IPv6 literals in brackets, no trailing port. */
export function normaliseHostName(name: string): string {
  const lower = name.trim().toLowerCase();
  if (lower.startsWith('[')) return lower;
  return lower.includes(':') ? `[${lower}]` : lower;
}

/** `host[:port]` of a Host header or URL authority → name and port (80 when absent); undefined when malformed. */
export function parseHostHeader(value: string): { name: string; port: number } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]\s/@]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!match?.[1]) return undefined;
  const port = match[2] === undefined ? 80 : Number(match[2]);
  if (port > 65_535) return undefined;
  return { name: match[1].toLowerCase(), port };
}

export function isLoopbackHost(host: string): boolean {
  const name = normaliseHostName(host);
  return name === 'localhost' || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

export class AccessPolicy {
  readonly names: ReadonlySet<string>;
  private port = 0;

  constructor(private readonly options: AccessOptions) {
    const names = new Set(['127.0.0.1', 'localhost', '[::1]', normaliseHostName(options.host)]);
    if (WILDCARDS.has(options.host.trim())) {
      for (const list of Object.values(networkInterfaces())) for (const iface of list ?? []) names.add(normaliseHostName(iface.address.split('%')[0] ?? iface.address));
    }
    for (const extra of options.allowedHosts ?? []) names.add(normaliseHostName(extra));
    this.names = names;
  }

  /** The port the server listens on (known only after `listen` when it was 0). */
  bind(port: number): void {
    this.port = port;
  }

  hostAllowed(header: string | undefined): boolean {
    if (header === undefined) return false;
    const parsed = parseHostHeader(header);
    return parsed !== undefined && parsed.port === this.port && this.names.has(parsed.name);
  }

  /** No Origin (a non-browser client) passes; a browser's must be one of our own http origins. */
  originAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    if (url.protocol !== 'http:' || url.username || url.password || (url.pathname !== '/' && url.pathname !== '')) return false;
    return this.hostAllowed(url.host);
  }

  canRead(remoteAddress: string | undefined, token: string | undefined): boolean {
    return this.options.publicReads || isLoopback(remoteAddress) || (token !== undefined && sameToken(token, this.options.token));
  }

  /** Why a request is refused before routing (status + error), or undefined when it may proceed. */
  refusal(req: IncomingMessage): { status: number; error: TwinlabError } | undefined {
    if ((req.url ?? '').length > MAX_URL_LENGTH) {
      return { status: 414, error: new TwinlabError('INVALID_ARGUMENT', `request URL is ${(req.url ?? '').length} characters; the limit is ${MAX_URL_LENGTH}`) };
    }
    const host = req.headers.host;
    if (!this.hostAllowed(host)) {
      return {
        status: 421,
        error: new TwinlabError('INVALID_ARGUMENT', `header Host ${host === undefined ? 'is missing' : `"${host.slice(0, 200)}" is not a name this server answers to`}; allowed: ${[...this.names].map((n) => `${n}:${this.port}`).join(', ')} (add names with --allow-host)`),
      };
    }
    const origin = req.headers.origin;
    if (!this.originAllowed(origin)) {
      return { status: 403, error: new TwinlabError('UNAUTHORIZED', `header Origin "${String(origin).slice(0, 200)}" is not this server's origin; cross-origin requests are refused`) };
    }
    return undefined;
  }
}

function jsonBody(error: TwinlabError): string {
  return JSON.stringify({ error: error.toJSON() });
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 408: 'Request Timeout', 414: 'URI Too Long', 421: 'Misdirected Request', 431: 'Request Header Fields Too Large' };

/** A whole HTTP/1.1 response for a raw socket (upgrade requests and parser errors have no ServerResponse). */
function rawResponse(status: number, error: TwinlabError): string {
  const body = jsonBody(error);
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * Answers and closes without resetting: the rest of what the client is still sending is read and
 * dropped, so it receives the response instead of ECONNRESET.
 */
function endRaw(socket: Duplex, status: number, error: TwinlabError): void {
  socket.on('error', () => undefined);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawResponse(status, error));
  socket.resume();
  setTimeout(() => socket.destroy(), 5_000).unref();
}

/**
 * Puts the policy in front of every listener already on the server (express and socket.io's engine,
 * for plain requests and websocket upgrades), and answers parser errors (oversized headers, garbage)
 * in the one error shape. Call once, after socket.io and the app are attached.
 */
export function guardHttpServer(http: HttpServer, policy: AccessPolicy): void {
  const requestListeners = http.listeners('request').slice() as ((req: IncomingMessage, res: ServerResponse) => void)[];
  http.removeAllListeners('request');
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const refused = policy.refusal(req);
    if (refused) {
      res.writeHead(refused.status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
      res.end(jsonBody(refused.error));
      return;
    }
    for (const listener of requestListeners) listener.call(http, req, res);
  });
  const upgradeListeners = http.listeners('upgrade').slice() as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  http.removeAllListeners('upgrade');
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refused = policy.refusal(req);
    if (refused) {
      endRaw(socket, refused.status, refused.error);
      return;
    }
    for (const listener of upgradeListeners) listener.call(http, req, socket, head);
  });
  http.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'HPE_HEADER_OVERFLOW') endRaw(socket, 431, new TwinlabError('INVALID_ARGUMENT', `request line and headers exceed ${MAX_HEADER_SIZE} bytes`));
    else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') endRaw(socket, 408, new TwinlabError('INVALID_ARGUMENT', 'request headers were not received in time'));
    else if (error.code === 'ECONNRESET' || error.code === 'EPIPE') socket.destroy();
    else endRaw(socket, 400, new TwinlabError('INVALID_ARGUMENT', `malformed HTTP request (${error.code ?? 'parse error'})`));
  });
}
