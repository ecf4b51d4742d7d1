/** One benchmark figure; `bench/index.ts` prints these as a table or JSON. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  note?: string;
}
