import type { ApiErrorBody } from '../../server/protocol.js';

/** REST client. The token (for mutating calls) comes from `#token=…` in the start URL, kept in localStorage. */
const TOKEN_KEY = 'twinlab-token';

export function captureToken(): void {
  const hash = new URLSearchParams(window.location.hash.slice(1));
  const token = hash.get('token');
  if (token) {
    localStorage.setItem(TOKEN_KEY, token);
    window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}`);
  }
}

export function token(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const t = token();
  if (t && method !== 'GET') headers.authorization = `Bearer ${t}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const err = (data as ApiErrorBody | undefined)?.error;
    throw new ApiError(res.status, err?.code ?? 'HTTP', err?.message ?? `${method} ${path} failed with ${res.status}`);
  }
  return data as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
};

export const enc = encodeURIComponent;
