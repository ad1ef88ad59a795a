// The concept explorer: one query, its concepts, and what concepts, BM25 and hybrid return for it,
// side by side. Plain DOM (no framework); every text from the server goes in with textContent.
'use strict';
(function () {
  const $ = (sel) => document.querySelector(sel);
  const form = $('#search-form');
  const input = $('#q');
  const status = $('#status');
  const keyLabel = $('#key-label');
  const keyInput = $('#key');
  const MODES = [
    { mode: 'concepts', list: '#concepts-hits', body: { mode: 'concepts', explain: 5 } },
    { mode: 'bm25', list: '#bm25-hits', body: { mode: 'bm25' } },
    { mode: 'hybrid', list: '#hybrid-hits', body: { mode: 'hybrid', explain: 5 } },
  ];
  const SIZE = 10;
  const STOP = new Set(['the', 'and', 'for', 'with', 'that', 'this', 'from', 'are', 'was', 'were', 'has', 'have', 'its', 'not', 'but', 'can', 'all', 'any', 'our', 'their', 'which', 'into', 'than', 'then', 'also', 'been']);
  keyInput.value = sessionStorage.getItem('saesplade-key') || '';

  // Concept id → colour: the query's concepts get distinct hues, in weight order.
  let colours = new Map();
  function colour(id) {
    if (!colours.has(id)) colours.set(id, `hsl(${(colours.size * 47) % 360} 80% 86%)`);
    return colours.get(id);
  }

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'style') e.style.cssText = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  function shortLabel(label, id) {
    const words = (label || '').split(/[\s|,]+/).filter(Boolean).slice(0, 4);
    return words.length ? words.join(' ') : '#' + id;
  }

  function chip(c, extra) {
    return el('li', { class: 'concept', style: `background:${colour(c.id)}`, title: `concept ${c.id}: ${c.label || '(no label)'}`, 'data-concept': String(c.id) },
      shortLabel(c.label, c.id), el('span', { class: 'w' }, extra));
  }

  // The hit's text with the words of its matched concepts' labels marked in each concept's colour.
  function highlighted(text, concepts) {
    const byWord = new Map();
    for (const c of concepts) {
      for (const w of (c.label || '').toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
        if (w.length >= 3 && !STOP.has(w) && !byWord.has(w)) byWord.set(w, c.id);
      }
    }
    const frag = document.createDocumentFragment();
    for (const part of text.split(/([\p{L}\p{N}]+)/u)) {
      const id = byWord.get(part.toLowerCase());
      if (id !== undefined) frag.append(el('mark', { style: `background:${colour(id)}`, title: `concept ${id}` }, part));
      else frag.append(part);
    }
    return frag;
  }

  function clip(s, n) {
    s = String(s || '').replace(/\s+/g, ' ').trim();
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  }

  function renderHits(list, result, ranksElsewhere) {
    list.replaceChildren();
    if (result.hits.length === 0) list.append(el('li', { class: 'muted' }, 'no hits'));
    for (const h of result.hits) {
      const src = h.source || {};
      const matched = (h.explanation && h.explanation.concepts) || [];
      const also = ranksElsewhere(h.id);
      const li = el('li', { class: 'hit', 'data-id': h.id },
        el('div', { class: 'head' },
          el('span', { class: 'rank' }, String(h.rank)),
          el('span', { class: 'title' }, clip(src.title || h.id, 120)),
        ),
        el('div', { class: 'text' }, highlighted(clip(src.text, 320), matched)),
        el('div', { class: 'text' },
          el('span', { class: 'id' }, h.id), ' · ',
          el('span', { class: 'score' }, 'score ' + h.score.toFixed(3)),
          also ? el('span', { class: 'also' }, ' · ' + also) : null),
      );
      if (matched.length) {
        li.append(el('ol', { class: 'chips matched' }, ...matched.map((c) => chip(c, Math.round(c.share * 100) + '%'))));
      }
      list.append(li);
    }
  }

  async function searchOnce(query, body) {
    const headers = { 'content-type': 'application/json' };
    if (keyInput.value) headers.authorization = 'Bearer ' + keyInput.value;
    const res = await fetch('/v1/search', { method: 'POST', headers, body: JSON.stringify({ query, size: SIZE, source: ['title', 'text'], ...body }) });
    const json = await res.json().catch(() => ({ message: res.statusText }));
    if (res.status === 401) keyLabel.hidden = false;
    if (!res.ok) throw new Error(`${res.status}: ${json.message || json.error}`);
    return json;
  }

  async function run(query) {
    colours = new Map();
    status.textContent = 'searching…';
    $('#go').disabled = true;
    const t0 = performance.now();
    const settled = await Promise.allSettled(MODES.map((m) => searchOnce(query, m.body)));
    $('#go').disabled = false;
    const results = {};
    settled.forEach((s, i) => (results[MODES[i].mode] = s));
    const c = results.concepts.status === 'fulfilled' ? results.concepts.value : undefined;
    if (c) {
      const q = c.queryVector;
      q.concepts.forEach((x) => colour(x.id));
      $('#query-concepts').replaceChildren(...q.concepts.slice(0, 40).map((x) => chip(x, x.weight.toFixed(2))));
      $('#query-stats').textContent = `${q.used} of ${q.nonZeros} used, ${Math.round(q.keptMass * 100)}% of the weight` + (c.fallback ? ' (no concepts: BM25 fallback)' : '');
      $('#query-panel').hidden = false;
    }
    const rankIn = {};
    for (const m of MODES) {
      const s = results[m.mode];
      rankIn[m.mode] = new Map(s.status === 'fulfilled' ? s.value.hits.map((h) => [h.id, h.rank]) : []);
    }
    for (const m of MODES) {
      const s = results[m.mode];
      const column = document.querySelector(`.column[data-mode="${m.mode}"]`);
      const list = $(m.list);
      if (s.status === 'rejected') {
        list.replaceChildren(el('li', { class: 'error' }, s.reason.message));
        column.querySelector('.meta').textContent = '';
        continue;
      }
      const others = MODES.filter((o) => o.mode !== m.mode);
      renderHits(list, s.value, (id) =>
        others.filter((o) => rankIn[o.mode].has(id)).map((o) => `${o.mode} #${rankIn[o.mode].get(id)}`).join(', '),
      );
      column.querySelector('.meta').textContent = `took ${s.value.took} ms · ${Math.round(s.value.timings.totalMs)} ms total`;
    }
    $('#columns').hidden = false;
    const failed = settled.filter((s) => s.status === 'rejected').length;
    status.textContent = failed ? `${failed} of 3 searches failed` : `3 searches in ${Math.round(performance.now() - t0)} ms`;
    status.className = failed ? 'error' : 'muted';
    document.body.dataset.state = 'done';
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (keyInput.value) sessionStorage.setItem('saesplade-key', keyInput.value);
    const q = input.value.trim();
    if (!q) return;
    history.replaceState(null, '', '?q=' + encodeURIComponent(q));
    document.body.dataset.state = 'searching';
    run(q).catch((err) => {
      status.textContent = String(err.message || err);
      status.className = 'error';
      $('#go').disabled = false;
      document.body.dataset.state = 'done';
    });
  });

  fetch('/v1/info').then((r) => r.json()).then((info) => {
    $('#model').textContent = `model ${info.model.name}@${info.model.version} (${info.model.dictionarySize.toLocaleString()} concepts) · index ${info.index}`;
  }).catch(() => ($('#model').textContent = ''));

  const initial = new URLSearchParams(location.search).get('q');
  if (initial) {
    input.value = initial;
    form.requestSubmit();
  }
})();
