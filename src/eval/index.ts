/** Evaluation through the real system: metrics, BEIR collections, `runEval` and its renderings. */
export { evaluateRun, mrrAt, ndcgAt, parseQrels, recallAt, toTrecRun, type MetricSummary, type Qrels, type Run } from './metrics.js';
export { loadBeirDataset, DatasetError, type BeirDataset } from './dataset.js';
export { ConceptFrequencies, docFlops, flops, percentile, summarizeLatencies, type LatencySummary } from './stats.js';
export { parseReferenceReport, parseExpected, loadReference, compareWithReference, CHECKED_METRICS, type CheckedMetric, type Consistency, type ExpectedFigures, type FigureCheck, type ReferenceFigure, type ReferenceSource } from './reference.js';
export { measureIndexSize, readEvalMeta, reuseCheck, reuseProblem, storedConceptFrequencies, writeEvalMeta, EVAL_META_KEY, type IndexSize, type ReuseVerdict } from './index-stats.js';
export { runEval, defaultEvalIndex, modelStatus, EvalError, EVAL_MODES, type EvalOptions, type EvalResult, type ModeResult } from './run-eval.js';
export { renderEvalTable, renderEvalMarkdown, formatBytes } from './render.js';
export { countProgress } from './progress.js';
export { comparisonRows, renderComparisonTable, renderComparisonMarkdown, type ComparisonRow } from './compare.js';
export { checkFailures, consistencyFailures } from './check.js';
