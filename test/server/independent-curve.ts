/**
 * The run comparison's drawn curve computed independently of experiments/curves.ts, for tests: TensorBoard's
 * debiased EMA written with Math.pow (curves.ts keeps a running product), then equal index buckets taking
 * the smoothed value at each bucket's last point and the raw min/max of the bucket (the first point alone).
 */
export function independentCurve(steps: number[], values: number[], w: number, maxPoints: number) {
  const smoothed: number[] = [];
  let s = 0;
  values.forEach((v, t) => {
    s = w * s + (1 - w) * v;
    smoothed.push(w === 0 ? v : s / (1 - w ** (t + 1)));
  });
  const n = steps.length;
  if (n <= maxPoints) return steps.map((step, i) => ({ step, value: smoothed[i] as number, min: values[i] as number, max: values[i] as number }));
  const out = [{ step: steps[0] as number, value: smoothed[0] as number, min: values[0] as number, max: values[0] as number }];
  for (let b = 0; b < maxPoints; b++) {
    const lo = Math.max(1, Math.floor((b * n) / maxPoints));
    const hi = Math.floor(((b + 1) * n) / maxPoints);
    if (hi <= lo) continue;
    const bucket = values.slice(lo, hi);
    out.push({ step: steps[hi - 1] as number, value: smoothed[hi - 1] as number, min: Math.min(...bucket), max: Math.max(...bucket) });
  }
  return out;
}
