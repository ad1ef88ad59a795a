// Usage: node scripts/compare-render.mjs a.json b.json > table.md   (outputs of `saesplade eval --json`, after npm run build)
// Renders the comparison table of several saved `eval --json` outputs ({runs, comparison} or one EvalResult).
import { readFileSync } from 'node:fs';
import { renderComparisonMarkdown } from '../dist/src/eval/compare.js';
const runs = process.argv.slice(2).flatMap((f) => { const j = JSON.parse(readFileSync(f, 'utf8')); return j.runs ?? [j]; });
process.stdout.write(renderComparisonMarkdown(runs));
