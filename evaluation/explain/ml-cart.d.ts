// The part of ml-cart 2 (no bundled types) that evaluation/explain/distil.ts uses.
declare module 'ml-cart' {
  export interface CartNode {
    splitColumn?: number;
    splitValue?: number;
    left?: CartNode;
    right?: CartNode;
  }
  export class DecisionTreeClassifier {
    constructor(options?: { gainFunction?: 'gini'; splitFunction?: 'mean'; maxDepth?: number; minNumSamples?: number; gainThreshold?: number });
    root: CartNode;
    train(trainingSet: number[][], trainingLabels: number[]): void;
    predict(toPredict: number[][]): number[];
    toJSON(): unknown;
  }
}
