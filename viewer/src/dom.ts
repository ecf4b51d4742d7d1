/** Tiny DOM helpers: element builder and HTML escaping. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children) if (child !== null && child !== undefined) el.append(child);
  return el;
}

export function fmt(value: unknown, digits = 3): string {
  if (typeof value !== 'number') return value === undefined || value === null ? '—' : String(value);
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toPrecision(digits + 1);
}

export function statusPill(status: string): HTMLSpanElement {
  return h('span', { class: `pill ${status}`, 'data-status': status, text: status });
}

export function link(label: string, search: string): HTMLAnchorElement {
  const a = h('a', { href: search, text: label });
  a.addEventListener('click', (e) => {
    e.preventDefault();
    window.history.pushState(null, '', search);
    window.dispatchEvent(new PopStateEvent('popstate'));
  });
  return a;
}
