/**
 * Kubernetes Services, with the Endpoints of the same name, as upstream clusters the way Istio
 * builds them for Higress: `outbound|<port>||<name>.<namespace>.svc.cluster.local` for each
 * service port.
 * - An ExternalName service reaches its host by DNS, on the service port.
 * - Another service takes the addresses of its Endpoints object and its EndpointSlices (those
 *   labelled `kubernetes.io/service-name: <name>`; endpoints not ready are left out), on the
 *   port of the same name (or the only one). Without any it has no endpoint, and its requests
 *   get 503, as in Envoy.
 * - A port's protocol comes from its `appProtocol`, else from its name's prefix (Istio's rule):
 *   `grpc` is gRPC (h2c), `http2` / `h2c` is h2c, anything else HTTP/1.1.
 */
import type { UpstreamProtocol } from './config-model.js';

type Obj = Record<string, unknown>;

export interface KubeServicePort {
  port: number;
  name: string;
  protocol: UpstreamProtocol;
  endpoints: Array<{ host: string; port: number; weight: number }>;
}

function protocolOfPort(p: Obj): UpstreamProtocol {
  const app = String(p.appProtocol ?? '').toLowerCase();
  const named = String(p.name ?? '').toLowerCase().split('-')[0];
  const v = app || named;
  if (v === 'grpc') return 'grpc';
  if (v === 'http2' || v === 'h2c' || v === 'kubernetes.io/h2c') return 'h2c';
  return 'http';
}

/** An address set with its ports: an Endpoints subset, or what an EndpointSlice lists. */
export type EndpointSubset = { addresses?: Array<{ ip: string }>; ports?: Obj[] };

/** The ready endpoints of an EndpointSlice as an Endpoints subset. */
export function sliceSubset(slice: Obj): EndpointSubset {
  const ready = ((slice.endpoints as Obj[] | undefined) ?? []).filter((e) => (e.conditions as Obj | undefined)?.ready !== false);
  return { addresses: ready.flatMap((e) => (e.addresses as string[]).map((ip) => ({ ip }))), ports: slice.ports as Obj[] | undefined };
}

/** The ports of Service `svc` and their endpoints, from the address sets behind it. */
export function kubeServicePorts(svc: Obj, subsets: EndpointSubset[]): KubeServicePort[] {
  const spec = svc.spec as Obj;
  const ports = (spec.ports as Obj[] | undefined) ?? [];
  const external = spec.type === 'ExternalName' ? (spec.externalName as string) : undefined;
  return ports.filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => {
    const port = p.port as number;
    const name = (p.name as string | undefined) ?? '';
    const eps: KubeServicePort['endpoints'] = [];
    if (external) eps.push({ host: external, port, weight: 1 });
    for (const s of subsets) {
      const sPorts = s.ports ?? [];
      const match = sPorts.find((sp) => ((sp.name as string | undefined) ?? '') === name) ?? (ports.length === 1 && sPorts.length === 1 ? sPorts[0] : undefined);
      if (!match) continue;
      for (const a of s.addresses ?? []) eps.push({ host: a.ip, port: match.port as number, weight: 1 });
    }
    return { port, name, protocol: protocolOfPort(p), endpoints: eps };
  });
}
