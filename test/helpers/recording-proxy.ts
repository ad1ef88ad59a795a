/**
 * An HTTP proxy in front of the real OpenSearch node that records what reaches the cluster (method,
 * URL, headers, body bytes) and forwards it unchanged: the tests of the OpenSearch-compatible
 * endpoint check with it that a request it does not manage arrives byte for byte, with the
 * caller's own credentials and none added.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class RecordingProxy {
  readonly seen: Recorded[] = [];
  private server: http.Server;
  private target: URL;

  constructor(target: string) {
    this.target = new URL(target);
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const up = http.request(
          { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: { ...req.headers, host: this.target.host } },
          (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
          },
        );
        up.on('error', () => res.destroy());
        up.end(body);
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Requests recorded since the last call whose URL matches. */
  take(url: RegExp): Recorded[] {
    const out = this.seen.filter((s) => url.test(s.url));
    this.seen.length = 0;
    return out;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
