import { PiscinaExecutor } from '../../experiments/executor.js';
import { executorSuite } from './executor-suite.js';

executorSuite({
  name: 'piscina',
  configs: ['1 worker thread', '2 worker threads'],
  make: (config) => new PiscinaExecutor({ workers: Number(config[0]) }),
});
