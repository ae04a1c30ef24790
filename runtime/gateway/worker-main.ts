/**
 * Entry point of a gateway worker process: runs a DataPlane, applies models the primary sends,
 * answers stats requests, and sends a heartbeat from its event loop for the watchdog.
 */
import { DataPlane } from './data-plane.js';
import { ConfigError } from './errors.js';
import { BEAT_MS, type FromWorker, type ToWorker } from './worker-pool.js';

const plane = new DataPlane();
const send = (m: FromWorker) => { if (process.connected) process.send!(m); };

process.on('message', (m: ToWorker) => {
  if (m.type === 'apply') {
    plane.apply(m.model).then(
      (report) => send({ type: 'applied', id: m.id, ok: true, report }),
      (err: Error & { code?: string }) => send({ type: 'applied', id: m.id, ok: false, error: { code: err.code ?? 'GW_APPLY', message: err.message, location: err instanceof ConfigError ? err.location : undefined } }),
    );
  } else if (m.type === 'stats') {
    send({ type: 'stats', id: m.id, data: plane.statsData() });
  }
});
process.on('SIGTERM', () => { void plane.close(1000).then(() => process.exit(0)); });
setInterval(() => send({ type: 'beat' }), BEAT_MS);
send({ type: 'ready' });
