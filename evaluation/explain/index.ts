export { type CounterfactualBranch, type CounterfactualRequest, type CounterfactualResult, counterfactuals } from './counterfactual.js';
export { type DecisionQ, decisionQ } from './decision.js';
export { type Distillation, type DistilOptions, distil, type TreeNode, TreePolicy, treeAction, treeJson, treeText } from './distil.js';
export { type IntegratedGradients, type IntegratedGradientsOptions, integratedGradients, integratedGradientsOnInput } from './integrated-gradients.js';
