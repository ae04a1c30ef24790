/**
 * The upstream `higress-plugin run` puts behind the gateway when no `--upstream` is given: it
 * answers every request with the request it received, as JSON, so what a plugin changed on the
 * way in (headers, path, body) is visible in the response.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the echo upstream answers: the request as it arrived upstream. */
export interface EchoedRequest {
  method: string;
  /** Path with query, as received. */
  path: string;
  /** Header names lower-case; repeated headers joined with ", " (Node's default). */
  headers: Record<string, string>;
  /** Request body as UTF-8 text ("" when none). */
  body: string;
}

/** A running echo upstream. */
export interface EchoUpstream {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the echo upstream on `host` (default 127.0.0.1) and `port` (default: a free one). */
export async function startEchoUpstream(port = 0, host = '127.0.0.1'): Promise<EchoUpstream> {
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const echoed: EchoedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers, body: Buffer.concat(chunks).toString('utf8') };
      const body = `${JSON.stringify(echoed, null, 2)}\n`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-echo-upstream': 'higress-plugin' });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65_000; // outlive the gateway pool's idle timeout so pooled connections are not cut mid-request
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
