/**
 * The concept explorer page in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core; CHROMIUM_PATH overrides the path): the test types a query into the page and
 * reads the rendered query concepts and hits of the three columns, and checks them against the API.
 * SAESPLADE_SCREENSHOT=<file.png> keeps a screenshot (the README's comes from this test).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenSearchClient, type Client } from '../../src/opensearch/client.js';
import type { RunningServer } from '../../src/server/serve.js';
import { cleanup, sampleLines, uniqueConfig } from './ingest-helpers.js';
import { API_KEY, call, startTestServer, waitForSet } from './server-helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
const config = uniqueConfig('server-explorer');
const lines = sampleLines(20, 0);
let client: Client;
let server: RunningServer;
let browser: Browser;
const setIds: string[] = [];
const shots = mkdtempSync(path.join(tmpdir(), 'saesplade-explorer-'));

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('no Chromium found: install Debian\'s chromium (apt-get install chromium; scripts/test.sh does) or set CHROMIUM_PATH');
  client = createOpenSearchClient(config);
  server = await startTestServer(config, { withWorker: 1, encoderWorkers: 1, encoderThreads: 2 });
  const posted = await call(server.url, 'POST', '/v1/documents?format=beir', { body: lines.join('\n'), key: API_KEY });
  expect(posted.status).toBe(202);
  setIds.push(posted.body.setId);
  await waitForSet(server.url, posted.body.setId);
  await client.indices.refresh({ index: config.index });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (client) await cleanup(config, client, setIds);
  await client?.close();
  rmSync(shots, { recursive: true, force: true });
});

describe('concept explorer', () => {
  it('typing a query shows its concepts, and the hits of concepts, BM25 and hybrid side by side with the concepts each matched', async () => {
    const first = JSON.parse(lines[1]!) as { _id: string; title: string };
    const query = first.title;
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    await page.goto(server.url + '/');
    await page.waitForFunction(() => document.querySelector('#model')?.textContent?.startsWith('model '));
    await page.fill('#q', query);
    await page.press('#q', 'Enter');
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 });

    const read = (list: string) =>
      page.$$eval(`${list} li.hit`, (items) =>
        items.map((li) => ({
          id: li.getAttribute('data-id'),
          title: li.querySelector('.title')?.textContent ?? '',
          matched: [...li.querySelectorAll('.matched .concept')].map((c) => Number(c.getAttribute('data-concept'))),
          marks: li.querySelectorAll('mark').length,
        })),
      );
    const concepts = await read('#concepts-hits');
    const bm25 = await read('#bm25-hits');
    const hybrid = await read('#hybrid-hits');
    const queryConcepts = await page.$$eval('#query-concepts .concept', (cs) => cs.map((c) => ({ id: Number(c.getAttribute('data-concept')), text: c.textContent ?? '' })));

    // what the page shows is what the API returns
    const api = async (body: object) => (await call(server.url, 'POST', '/v1/search', { json: { query, size: 10, ...body } })).body;
    const [ac, ab, ah] = await Promise.all([api({ mode: 'concepts', explain: 5 }), api({ mode: 'bm25' }), api({ mode: 'hybrid', explain: 5 })]);
    expect(concepts.map((h) => h.id)).toEqual(ac.hits.map((h: any) => h.id));
    expect(bm25.map((h) => h.id)).toEqual(ab.hits.map((h: any) => h.id));
    expect(hybrid.map((h) => h.id)).toEqual(ah.hits.map((h: any) => h.id));
    expect(concepts.length).toBeGreaterThan(0);
    expect(concepts[0]!.id).toBe(first._id);
    expect(concepts[0]!.title).toBe(first.title);

    // query concepts with labels and weights, heaviest first
    expect(queryConcepts.length).toBe(Math.min(40, ac.queryVector.concepts.length));
    expect(queryConcepts.map((c) => c.id)).toEqual(ac.queryVector.concepts.slice(0, 40).map((c: any) => c.id));
    expect(queryConcepts[0]!.text).toMatch(/\d\.\d\d$/);
    // the concepts each hit matched on, as chips, and their label words highlighted in the text
    expect(concepts[0]!.matched).toEqual(ac.hits[0].explanation.concepts.map((c: any) => c.id));
    expect(concepts.some((h) => h.marks > 0)).toBe(true);
    expect(bm25.every((h) => h.matched.length === 0)).toBe(true);
    expect(hybrid[0]!.matched.length).toBeGreaterThan(0);
    expect(await page.textContent('#status')).toMatch(/^3 searches in \d+ ms$/);
    expect(problems).toEqual([]);

    const shot = process.env.SAESPLADE_SCREENSHOT ?? path.join(shots, 'explorer.png');
    await page.screenshot({ path: shot, fullPage: false });
    expect(existsSync(shot)).toBe(true);
    await page.close();
  });

  it('an initial ?q= runs the query on load, and text from the index is inserted as text, not HTML', async () => {
    const page = await browser.newPage();
    await page.goto(server.url + '/?q=' + encodeURIComponent('<img src=x onerror=alert(1)> stem cells'));
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
    expect(await page.inputValue('#q')).toContain('<img');
    expect(await page.$$('img')).toHaveLength(0);
    expect((await page.$$('#bm25-hits li')).length).toBeGreaterThan(0);
    await page.close();
  });
});
