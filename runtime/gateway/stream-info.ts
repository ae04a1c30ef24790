/**
 * The {@link StreamInfo} a plugin chain reads (as proxy-wasm properties) for one downstream
 * stream, built from the connection facts and the routing decision. Shared by every path that
 * starts a chain.
 */
import type { StreamInfo } from '../host/types.js';
import type { ConnInfo } from './proxy.js';

/** What the data path knows about a stream when its chain starts. Missing route/cluster = none matched. */
export interface StreamFacts {
  requestId: string;
  /** `HTTP/1.0`, `HTTP/1.1`, `HTTP/2`. */
  protocol: string;
  routeName?: string;
  clusterName?: string;
}

/** Stream facts for the chain; the start time is now. Listener direction is outbound, as on a Higress gateway. */
export function streamInfoFor(conn: ConnInfo, facts: StreamFacts): StreamInfo {
  return {
    startTimeNs: BigInt(Date.now()) * 1_000_000n,
    requestId: facts.requestId,
    protocol: facts.protocol,
    sourceAddress: conn.remoteAddress,
    sourcePort: conn.remotePort,
    destinationAddress: conn.localAddress,
    destinationPort: conn.localPort,
    connectionId: conn.id,
    mtls: false,
    requestedServerName: conn.sni,
    routeName: facts.routeName || undefined,
    clusterName: facts.clusterName || undefined,
    listenerDirection: 2,
  };
}
