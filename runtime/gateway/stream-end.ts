/**
 * The end of one downstream stream, whatever carried it (a proxied request or a WebSocket
 * upgrade): the plugins' last callbacks, the request counters and the access-log line.
 */
import type { AccessLogEntry } from './access-log.js';
import type { ProxyContext } from './proxy.js';
import type { ChainLike } from './snapshot.js';

/** What a finished stream reports: its access-log facts plus what the end itself needs. */
export interface StreamEnd extends Pick<AccessLogEntry, 'requestId' | 'route' | 'cluster' | 'upstream' | 'method' | 'authority' | 'path' | 'protocol' | 'client'> {
  /** The stream's plugin chain; undefined when no plugin applied. */
  chain: ChainLike | undefined;
  /** Status sent to the client (0: none). */
  status: number;
  /** False when the client went away before the answer was complete: counted and logged as status 0. */
  completed: boolean;
  /** Why the gateway answered or reset as it did (`route_not_found`, …); undefined for a plain proxied answer. */
  detail: string | undefined;
  /** `process.hrtime.bigint()` when the stream started. */
  start: bigint;
}

/** Runs the chain's stream end (on_log, on_done, on_delete), counts the request and writes its access-log line. */
export function recordStreamEnd(ctx: ProxyContext, e: StreamEnd): void {
  const chain = e.chain;
  if (chain) {
    chain.info.responseCode = e.status;
    if (e.detail) chain.info.responseCodeDetails = e.detail;
    try { chain.finish(); } catch { /* the host reports plugin failures itself */ }
  }
  const ms = Number(process.hrtime.bigint() - e.start) / 1e6;
  const status = e.completed ? e.status : 0;
  ctx.stats.record(e.route || '-', status, ms);
  if (!ctx.accessLog.enabled) return;
  const aiLog = chain?.property('ai_log');
  ctx.accessLog.write({
    time: new Date().toISOString(),
    requestId: e.requestId,
    route: e.route,
    cluster: e.cluster,
    upstream: e.upstream,
    method: e.method,
    authority: e.authority,
    path: e.path,
    protocol: e.protocol,
    status,
    durationMs: Math.round(ms * 1000) / 1000,
    client: e.client,
    detail: status ? e.detail : e.detail ?? 'downstream_reset',
    ai_log: aiLog && Buffer.from(aiLog).toString(),
  });
}
