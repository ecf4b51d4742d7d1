/** JSON over the test server's REST API, shared by the browser tests. */
export function apiClient(baseUrl: () => string, token: string) {
  async function api<T>(path: string, init?: RequestInit): Promise<T> {
    const res = await fetch(`${baseUrl()}${path}`, init);
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }
  /** POSTs the spec (with the token) and polls every 100 ms until it finishes; throws if it fails or takes > 2 min. */
  async function runTrial(spec: object): Promise<string> {
    const { id } = await api<{ id: string }>('/api/experiments', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ spec }),
    });
    for (let i = 0; i < 1200; i++) {
      const status = (await api<{ status: string }>(`/api/experiments/${encodeURIComponent(id)}`)).status;
      if (status === 'finished') return id;
      if (['failed', 'cancelled', 'interrupted'].includes(status)) throw new Error(`trial ${id} ${status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`trial ${id} did not finish`);
  }
  return { api, runTrial };
}
