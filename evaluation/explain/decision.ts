/**
 * Q-values of one decision and its action gap: the best Q-value minus the second best. A small gap
 * means the network barely preferred its action (a near-tie that small weight changes would flip);
 * a large one, a confident choice.
 */
export interface DecisionQ {
  values: number[];
  /** Index (0-based) of the largest value, lowest on ties. */
  best: number;
  gap: number;
}

export function decisionQ(q: ArrayLike<number>): DecisionQ {
  const values = Array.from(q);
  let best = 0;
  for (let a = 1; a < values.length; a++) if ((values[a] as number) > (values[best] as number)) best = a;
  let second = Number.NEGATIVE_INFINITY;
  for (let a = 0; a < values.length; a++) if (a !== best && (values[a] as number) > second) second = values[a] as number;
  return { values, best, gap: values.length > 1 ? (values[best] as number) - second : 0 };
}
