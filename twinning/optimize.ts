/**
 * Nelder–Mead simplex minimisation (Nelder & Mead 1965, Comput. J. 7(4):308–313) with the standard
 * coefficients (reflection 1, expansion 2, contraction 0.5, shrink 0.5), for the small, cheap
 * sub-problems of identification (e.g. the two CGM-error parameters with the model trajectory held).
 * Deterministic: no random restarts.
 */
export function nelderMead(
  f: (x: Float64Array) => number,
  x0: ArrayLike<number>,
  step: number,
  iterations = 200,
  tolerance = 1e-9,
): { x: Float64Array; value: number } {
  const n = x0.length;
  const pts: Float64Array[] = [];
  const vals: number[] = [];
  for (let i = 0; i <= n; i++) {
    const p = Float64Array.from(x0);
    if (i > 0) p[i - 1] = (p[i - 1] as number) + step;
    pts.push(p);
    vals.push(f(p));
  }
  const centroid = new Float64Array(n);
  const trial = (from: Float64Array, towards: Float64Array, t: number): Float64Array => {
    const out = new Float64Array(n);
    for (let j = 0; j < n; j++) out[j] = (towards[j] as number) + t * ((from[j] as number) - (towards[j] as number));
    return out;
  };
  for (let it = 0; it < iterations; it++) {
    const order = vals.map((_, i) => i).sort((a, b) => (vals[a] as number) - (vals[b] as number));
    const sortedP = order.map((i) => pts[i] as Float64Array);
    const sortedV = order.map((i) => vals[i] as number);
    pts.splice(0, pts.length, ...sortedP);
    vals.splice(0, vals.length, ...sortedV);
    if (Math.abs((vals[n] as number) - (vals[0] as number)) <= tolerance * (Math.abs(vals[0] as number) + tolerance)) break;
    centroid.fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j] = (centroid[j] as number) + (pts[i] as Float64Array)[j]! / n;
    const worst = pts[n] as Float64Array;
    const xr = trial(worst, centroid, -1);
    const fr = f(xr);
    if (fr < (vals[0] as number)) {
      const xe = trial(worst, centroid, -2);
      const fe = f(xe);
      if (fe < fr) {
        pts[n] = xe;
        vals[n] = fe;
      } else {
        pts[n] = xr;
        vals[n] = fr;
      }
    } else if (fr < (vals[n - 1] as number)) {
      pts[n] = xr;
      vals[n] = fr;
    } else {
      const xc = fr < (vals[n] as number) ? trial(xr, centroid, 0.5) : trial(worst, centroid, 0.5);
      const fc = f(xc);
      if (fc < Math.min(fr, vals[n] as number)) {
        pts[n] = xc;
        vals[n] = fc;
      } else {
        for (let i = 1; i <= n; i++) {
          pts[i] = trial(pts[i] as Float64Array, pts[0] as Float64Array, 0.5);
          vals[i] = f(pts[i] as Float64Array);
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i <= n; i++) if ((vals[i] as number) < (vals[best] as number)) best = i;
  return { x: pts[best] as Float64Array, value: vals[best] as number };
}
