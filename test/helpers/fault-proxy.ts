/**
 * A small HTTP proxy in front of the real OpenSearch node, for fault tests: it forwards every
 * request as it is, and on demand
 *
 * - refuses connections (`refuse()`: stops listening and drops open sockets, so clients get
 *   ECONNREFUSED exactly as with a node that is down; `accept()` listens again on the same port);
 * - answers requests itself with a status (`respond(503)`, `respond(500, { path: /_bulk/, times: 2 })`),
 *   without forwarding them (nothing reaches the cluster);
 * - fails chosen items of `_bulk` requests (`failBulkItems`): those items are cut out of the request
 *   before it is forwarded (so they really do not land) and answered with the given status in
 *   their place in the response, beside the cluster's real answers for the others;
 * - forwards matching requests but holds their answers (`holdAnswers`): the write lands, the client
 *   never hears it (a worker killed between its bulk write and its answer).
 *
 * It counts what it did (`stats`), so tests can print the figures of each fault.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RespondRule {
  status: number;
  /** Only requests whose path matches (default: all). */
  path?: RegExp;
  /** Only this many requests, then the rule is dropped (default: until `pass()`). */
  times?: number;
  body?: unknown;
}

export interface BulkItemRule {
  /** The item's status, or a function of its id. */
  status: number | ((id: string) => number);
  /** Which items fail: by document id (default: every item). */
  match?: (id: string) => boolean;
  /** Times each matching id fails before it passes (default 1). */
  timesPerId?: number;
  /** Error type in the item (default `proxy_injected_exception`). */
  type?: string;
}

export interface ProxyStats {
  requests: number;
  forwarded: number;
  /** Requests answered by the proxy itself, by status. */
  answered: Record<number, number>;
  /** Bulk items failed on purpose, by status. */
  bulkItemsFailed: Record<number, number>;
  /** Connections dropped by `refuse()`. */
  dropped: number;
  /** Requests forwarded whose answer was held back (`holdAnswers`). */
  held: number;
}

export class FaultProxy {
  readonly stats: ProxyStats = { requests: 0, forwarded: 0, answered: {}, bulkItemsFailed: {}, dropped: 0, held: 0 };
  private server: http.Server;
  private sockets = new Set<Socket>();
  private rules: RespondRule[] = [];
  private bulkRule: BulkItemRule | undefined;
  private bulkSeen = new Map<string, number>();
  private hold: RegExp | undefined;
  private latencyMs = 0;
  private listening = false;
  port = 0;

  private constructor(private readonly target: URL) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 1000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Starts a proxy on 127.0.0.1 (a free port unless given) in front of `target`. */
  static async start(target = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200', port = 0): Promise<FaultProxy> {
    const p = new FaultProxy(new URL(target));
    await p.listen(port);
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        this.listening = true;
        resolve();
      });
    });
  }

  /** Connections are refused from now on (the port is closed; open connections are dropped). */
  async refuse(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) {
      this.stats.dropped++;
      s.destroy();
    }
    await closed;
  }

  /** Listens again on the same port. */
  async accept(): Promise<void> {
    if (this.listening) return;
    await this.listen(this.port);
  }

  /** Answers matching requests with `status` instead of forwarding them. */
  respond(status: number, rule: Omit<RespondRule, 'status'> = {}): void {
    this.rules.push({ status, ...rule });
  }

  /** Fails chosen `_bulk` items (see BulkItemRule). */
  failBulkItems(rule: BulkItemRule): void {
    this.bulkRule = rule;
    this.bulkSeen.clear();
  }

  /**
   * Requests whose path matches are forwarded (they take effect on the cluster), but their answer
   * is never sent: the client waits until it gives up or dies. Until `pass()`.
   */
  holdAnswers(path: RegExp): void {
    this.hold = path;
  }

  /** Delays every request by `ms` before it is forwarded (a slow network or cluster); 0 turns it off. */
  latency(ms: number): void {
    this.latencyMs = ms;
  }

  /** Forwards everything again (drops the respond, bulk and hold rules; listens if refusing). */
  async pass(): Promise<void> {
    this.rules = [];
    this.bulkRule = undefined;
    this.hold = undefined;
    await this.accept();
  }

  async close(): Promise<void> {
    this.rules = [];
    if (this.listening) await this.refuse();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.stats.requests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    const path = req.url ?? '/';
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));

    const rule = this.rules.find((r) => !r.path || r.path.test(path));
    if (rule) {
      if (rule.times !== undefined && --rule.times <= 0) this.rules.splice(this.rules.indexOf(rule), 1);
      this.stats.answered[rule.status] = (this.stats.answered[rule.status] ?? 0) + 1;
      const payload = JSON.stringify(rule.body ?? { error: { type: 'proxy_injected_exception', reason: `injected HTTP ${rule.status}` }, status: rule.status });
      res.writeHead(rule.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
      return;
    }

    // Bulk item faults: cut the failing items out of the request, splice their errors into the answer.
    let injected: { pos: number; item: Record<string, unknown> }[] = [];
    const bulk = this.bulkRule;
    if (bulk && /\/_bulk(\?|$)/.test(path) && req.method === 'POST') {
      const cut = cutBulkItems(body.toString('utf8'), (id) => {
        if (bulk.match && !bulk.match(id)) return false;
        const n = this.bulkSeen.get(id) ?? 0;
        if (n >= (bulk.timesPerId ?? 1)) return false;
        this.bulkSeen.set(id, n + 1);
        return true;
      });
      injected = cut.failed.map(({ pos, action, id, index }) => {
        const status = typeof bulk.status === 'function' ? bulk.status(id) : bulk.status;
        this.stats.bulkItemsFailed[status] = (this.stats.bulkItemsFailed[status] ?? 0) + 1;
        return { pos, item: { [action]: { _index: index, _id: id, status, error: { type: bulk.type ?? 'proxy_injected_exception', reason: `injected item ${status}` } } } };
      });
      if (injected.length > 0 && cut.kept.length === 0) {
        const payload = JSON.stringify({ took: 0, errors: true, items: injected.map((i) => i.item) });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
        res.end(payload);
        return;
      }
      body = Buffer.from(cut.kept.join('\n') + '\n');
    }

    const headers = { ...req.headers, host: this.target.host, 'content-length': String(body.length) };
    delete headers['accept-encoding'];
    const up = http.request(
      { hostname: this.target.hostname, port: this.target.port, path, method: req.method, headers },
      async (ur) => {
        this.stats.forwarded++;
        if (this.hold?.test(path)) {
          ur.resume(); // read and drop the cluster's answer: the client never gets it
          ur.on('end', () => this.stats.held++);
          return;
        }
        if (injected.length === 0) {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        for await (const c of ur) parts.push(c as Buffer);
        const answer = JSON.parse(Buffer.concat(parts).toString('utf8')) as { items: unknown[]; errors: boolean };
        const items = [...answer.items];
        for (const i of injected.sort((a, b) => a.pos - b.pos)) items.splice(i.pos, 0, i.item);
        const payload = JSON.stringify({ ...answer, errors: true, items });
        const h = { ...ur.headers, 'content-length': String(Buffer.byteLength(payload)) };
        res.writeHead(ur.statusCode ?? 200, h);
        res.end(payload);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'proxy: upstream unreachable' }));
    });
    up.end(body);
  }
}

/**
 * Splits an NDJSON bulk body into kept lines and failed items (position among the items, action,
 * id, index). Only `index`/`create` actions (a document line follows) and `delete` are understood.
 */
function cutBulkItems(ndjson: string, fail: (id: string) => boolean): { kept: string[]; failed: { pos: number; action: string; id: string; index?: string }[] } {
  const lines = ndjson.split('\n').filter((l) => l.length > 0);
  const kept: string[] = [];
  const failed: { pos: number; action: string; id: string; index?: string }[] = [];
  let pos = 0;
  for (let i = 0; i < lines.length; pos++) {
    const meta = JSON.parse(lines[i]!) as Record<string, { _id?: string; _index?: string }>;
    const action = Object.keys(meta)[0]!;
    const n = action === 'delete' ? 1 : 2;
    const id = String(meta[action]?._id ?? '');
    if (fail(id)) failed.push({ pos, action, id, ...(meta[action]?._index ? { index: meta[action]!._index } : {}) });
    else kept.push(...lines.slice(i, i + n));
    i += n;
  }
  return { kept, failed };
}
