/**
 * Kubernetes Services (with their Endpoints or EndpointSlices, or ExternalName) as the upstreams of Ingress and
 * HTTPRoute backends, as Istio builds them for Higress.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { configDir, echo, echoServer, fetchText, gateway, QUIET } from './helpers.js';

let web: Awaited<ReturnType<typeof echoServer>>;
let admin: Awaited<ReturnType<typeof echoServer>>;
let dir: Awaited<ReturnType<typeof configDir>>;
let gw: Awaited<ReturnType<typeof gateway>>;

const ingressPath = (path: string, service: string, port: string) => `          - path: ${path}
            pathType: Prefix
            backend: { service: { name: ${service}, port: { ${port} } } }
`;

before(async () => {
  web = await echoServer('web');
  admin = await echoServer('admin');
  dir = await configDir();
  await dir.write('gw.yaml', QUIET);
  await dir.write('services.yaml', `apiVersion: v1
kind: Service
metadata: { name: echo, namespace: default }
spec:
  ports:
    - { name: http, port: 80, targetPort: 8080 }
    - { name: admin, port: 9000 }
---
apiVersion: v1
kind: Endpoints
metadata: { name: echo, namespace: default }
subsets:
  - addresses: [{ ip: 127.0.0.1 }]
    ports: [{ name: http, port: ${web.port} }, { name: admin, port: ${admin.port} }]
---
apiVersion: v1
kind: Service
metadata: { name: outside, namespace: default }
spec: { type: ExternalName, externalName: localhost, ports: [{ port: ${web.port} }] }
---
apiVersion: v1
kind: Service
metadata: { name: unready, namespace: default }
spec: { ports: [{ port: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: prod }
spec: { ports: [{ port: 8000 }] }
---
apiVersion: v1
kind: Endpoints
metadata: { name: echo, namespace: prod }
subsets: [{ addresses: [{ ip: 127.0.0.1 }], ports: [{ port: ${admin.port} }] }]
---
apiVersion: v1
kind: Service
metadata: { name: sliced, namespace: default }
spec: { ports: [{ name: http, port: 80 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: sliced-abc12, namespace: default, labels: { kubernetes.io/service-name: sliced } }
addressType: IPv4
endpoints:
  - { addresses: [127.0.0.1], conditions: { ready: true } }
  - { addresses: [10.255.255.1], conditions: { ready: false } }
ports: [{ name: http, port: ${admin.port} }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: site, namespace: default }
spec:
  rules:
    - host: site.example
      http:
        paths:
${ingressPath('/web', 'echo', 'number: 80')}${ingressPath('/admin', 'echo', 'name: admin')}${ingressPath('/outside', 'outside', `number: ${web.port}`)}${ingressPath('/unready', 'unready', 'number: 80')}${ingressPath('/sliced', 'sliced', 'number: 80')}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: api, namespace: prod }
spec:
  hostnames: [api.example]
  rules: [{ backendRefs: [{ name: echo, port: 8000 }] }]
`);
  gw = await gateway([dir.dir]);
});

after(async () => {
  await gw?.close();
  await Promise.all([web, admin].map((s) => s?.close()));
  await dir?.remove();
});

const get = (path: string, host = 'site.example') => echo(`${gw.url}${path}`, { headers: { host } });

test('a Service port reaches the addresses of its Endpoints on the port of the same name', async () => {
  assert.equal((await get('/web/x')).name, 'web', 'port 80 (http) → the endpoints\' http port');
  assert.equal((await get('/admin/x')).name, 'admin', 'an Ingress backend naming the port');
  assert.equal((await get('/', 'api.example')).name, 'admin', 'an HTTPRoute backendRef in its own namespace; one unnamed port');
});

test('an ExternalName Service is reached by DNS on the service port; a Service without Endpoints answers 503', async () => {
  assert.equal((await get('/outside/x')).name, 'web');
  const r = await get('/unready/x');
  assert.equal(r.status, 503);
  assert.equal(r.respHeaders['x-gateway-detail'], 'no_healthy_upstream');
});

test('EndpointSlices labelled with the Service name give its endpoints; endpoints not ready are left out', async () => {
  assert.equal((await get('/sliced/x')).name, 'admin');
  const dump = JSON.parse((await fetchText(`${gw.admin}/config_dump`)).text);
  const c = dump.clusters.find((x: { name: string }) => x.name === 'outbound|80||sliced.default.svc.cluster.local');
  assert.deepEqual(c.endpoints.map((e: { host: string }) => e.host), ['127.0.0.1']);
});
