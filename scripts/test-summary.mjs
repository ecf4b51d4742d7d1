// Prints the plain closing line CI reads ("N passed, N failed, N skipped") from vitest's JSON report
// and exits non-zero when anything failed or nothing ran.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-artifacts/vitest-report.json';
const report = JSON.parse(readFileSync(file, 'utf8'));
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const suitesFailed = report.numFailedTestSuites ?? 0;
process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
if (failed > 0 || suitesFailed > 0 || passed === 0 || report.success === false) process.exitCode = 1;
