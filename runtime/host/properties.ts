/**
 * proxy-wasm properties (REFERENCE §1, Envoy attribute names) computed from a stream's header
 * maps and {@link StreamInfo}, plus the plugin's own names. Values use the host encodings:
 * strings as UTF-8, integers as 8-byte little-endian, bools as one byte, maps as header maps.
 */
import type { HeaderList, StreamInfo } from './types.js';
import type { StreamPort } from './stream-port.js';
import { encodeHeaders } from './header-codec.js';
import { utf8 } from './memory-view.js';

/** Plugin-level facts every context can read. */
export interface PluginFacts {
  name: string;
  rootId: string;
  vmId: string;
}

function int64(v: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, BigInt(v), true);
  return out;
}

function header(list: HeaderList | undefined, name: string): string | undefined {
  if (!list) return undefined;
  for (let i = 0; i < list.length; i++) if (list[i]![0] === name) return list[i]![1];
  return undefined;
}

function hostPort(addr: string | undefined, port: number | undefined): string | undefined {
  if (addr === undefined) return undefined;
  if (port === undefined) return addr;
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function str(s: string | undefined): Uint8Array | undefined {
  return s === undefined ? undefined : utf8.encode(s);
}

/** Property path bytes (`request\0path`, trailing NUL allowed) → dotted name (`request.path`). */
export function propertyName(path: string): string {
  if (path.endsWith('\0')) path = path.slice(0, -1);
  return path.split('\0').join('.');
}

/** Value of a property, or undefined (NOT_FOUND). `port` is absent for root contexts. */
export function readProperty(name: string, facts: PluginFacts, port: StreamPort | undefined, nowNs: bigint): Uint8Array | undefined {
  switch (name) {
    case 'plugin_name': return str(facts.name);
    case 'plugin_root_id': return str(facts.rootId);
    case 'plugin_vm_id': return str(facts.vmId);
  }
  if (!port) return undefined;
  const info: StreamInfo = port.info;
  const req = port.map(0);
  switch (name) {
    case 'request.path': return str(header(req, ':path'));
    case 'request.url_path': {
      const p = header(req, ':path');
      if (p === undefined) return undefined;
      const q = p.indexOf('?');
      return str(q < 0 ? p : p.slice(0, q));
    }
    case 'request.query': {
      const p = header(req, ':path');
      if (p === undefined) return undefined;
      const q = p.indexOf('?');
      return str(q < 0 ? '' : p.slice(q + 1));
    }
    case 'request.host': return str(header(req, ':authority'));
    case 'request.scheme': return str(header(req, ':scheme'));
    case 'request.method': return str(header(req, ':method'));
    case 'request.headers': return req ? encodeHeaders(req) : undefined;
    case 'request.referer': return str(header(req, 'referer'));
    case 'request.useragent': return str(header(req, 'user-agent'));
    case 'request.id': return str(info.requestId ?? header(req, 'x-request-id'));
    case 'request.protocol': return str(info.protocol);
    case 'request.time': return int64(info.startTimeNs);
    case 'request.duration': return int64(nowNs - info.startTimeNs);
    case 'request.size': {
      const cl = header(req, 'content-length');
      return cl === undefined || !/^\d+$/.test(cl) ? undefined : int64(BigInt(cl));
    }
    case 'response.code': {
      if (info.responseCode !== undefined) return int64(info.responseCode);
      const s = header(port.map(2), ':status');
      return s === undefined ? undefined : int64(Number(s) | 0);
    }
    case 'response.code_details': return str(info.responseCodeDetails);
    case 'response.headers': { const m = port.map(2); return m ? encodeHeaders(m) : undefined; }
    case 'response.trailers': { const m = port.map(3); return m ? encodeHeaders(m) : undefined; }
    case 'response.size': {
      const cl = header(port.map(2), 'content-length');
      return cl === undefined || !/^\d+$/.test(cl) ? undefined : int64(BigInt(cl));
    }
    case 'source.address': return str(hostPort(info.sourceAddress, info.sourcePort));
    case 'source.port': return info.sourcePort === undefined ? undefined : int64(info.sourcePort);
    case 'destination.address': return str(hostPort(info.destinationAddress, info.destinationPort));
    case 'destination.port': return info.destinationPort === undefined ? undefined : int64(info.destinationPort);
    case 'connection.id': return info.connectionId === undefined ? undefined : int64(info.connectionId);
    case 'connection.mtls': return info.mtls === undefined ? undefined : Uint8Array.of(info.mtls ? 1 : 0);
    case 'connection.requested_server_name': return str(info.requestedServerName);
    case 'upstream.address': return str(info.upstreamAddress);
    case 'upstream.port': {
      const m = info.upstreamAddress ? /:(\d+)$/.exec(info.upstreamAddress) : null;
      return m ? int64(Number(m[1])) : undefined;
    }
    case 'response.flags': return port.map(2) ? int64(0) : undefined;
    case 'route_name': return str(info.routeName);
    case 'cluster_name': return str(info.clusterName);
    case 'listener_direction': return int64(info.listenerDirection ?? 2);
  }
  return undefined;
}
