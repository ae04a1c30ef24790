/**
 * gRPC calls the gateway makes for plugins (`proxy_grpc_stream`, `proxy_grpc_call`) over a
 * cluster's HTTP/2 session (h2c on plain clusters), delivering what comes back as Envoy's gRPC
 * client does: initial metadata (empty for a trailers-only answer), each message, trailing
 * metadata, then the status (`grpc-status`, or gRPC's mapping of the HTTP status without one).
 */
import http2 from 'node:http2';
import type { GrpcCallRequest, GrpcCallResponse, GrpcStreamEvents, GrpcStreamHandle, GrpcStreamRequest } from '../host/types.js';
import { headerListOf } from './proxy-headers.js';
import { GrpcStatus } from '../../spec/index.js';

const NO_BYTES = new Uint8Array(0);
/** gRPC's message prefix: a compressed-flag byte and a 32-bit big-endian length. */
const PREFIX = 5;

/** The gRPC status for an HTTP status that came without one (gRPC's HTTP-to-gRPC mapping). */
function grpcStatusOfHttp(status: number): number {
  if (status === 400) return GrpcStatus.INTERNAL;
  if (status === 401) return GrpcStatus.UNAUTHENTICATED;
  if (status === 403) return GrpcStatus.PERMISSION_DENIED;
  if (status === 404) return GrpcStatus.UNIMPLEMENTED;
  if (status === 429 || status === 502 || status === 503 || status === 504) return GrpcStatus.UNAVAILABLE;
  return GrpcStatus.UNKNOWN;
}

/** `grpc-message` is percent-encoded; a malformed one is passed on as it came. */
function statusMessage(v: unknown): string {
  const s = v === undefined ? '' : String(v);
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function frame(message: Uint8Array): Buffer {
  const f = Buffer.allocUnsafe(PREFIX + message.length);
  f[0] = 0;
  f.writeUInt32BE(message.length, 1);
  f.set(message, PREFIX);
  return f;
}

/** Opens `/<service>/<method>` on `session`; `timeoutMs` (unary calls) becomes `grpc-timeout`. */
export function grpcStream(session: http2.ClientHttp2Session, authority: string, req: GrpcStreamRequest & { timeoutMs?: number },
  events: GrpcStreamEvents): GrpcStreamHandle {
  const headers: http2.OutgoingHttpHeaders = {
    ':method': 'POST', ':path': `/${req.service}/${req.method}`, ':authority': authority, 'content-type': 'application/grpc', te: 'trailers',
  };
  if (req.timeoutMs) headers['grpc-timeout'] = `${req.timeoutMs}m`;
  for (const [k, v] of req.metadata) if (k.charCodeAt(0) !== 58) headers[k] = v;
  const stream = session.request(headers);
  let closed = false;
  const close = (status: number, message: string): void => {
    if (closed) return;
    closed = true;
    events.close(status, message);
  };
  const fail = (status: number, message: string): void => {
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    close(status, message);
  };
  let httpStatus = 0;
  let head: http2.IncomingHttpHeaders = {};
  let trailers: http2.IncomingHttpHeaders | undefined;
  let pending: Buffer = Buffer.alloc(0);
  stream.on('response', (h, flags) => {
    head = h;
    httpStatus = Number(h[':status']);
    // A trailers-only answer: empty initial metadata, its headers are the trailers.
    const trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    events.initialMetadata(trailersOnly ? [] : headerListOf(h));
    if (trailersOnly) trailers = h;
  });
  stream.on('data', (chunk: Buffer) => {
    if (closed) return;
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= PREFIX && pending.length >= PREFIX + pending.readUInt32BE(1)) {
      if (pending[0] !== 0) return fail(GrpcStatus.INTERNAL, 'compressed messages are not supported');
      const end = PREFIX + pending.readUInt32BE(1);
      events.message(new Uint8Array(pending.subarray(PREFIX, end)));
      if (closed) return;
      pending = pending.subarray(end);
    }
  });
  stream.on('trailers', (t) => { trailers = t; });
  stream.on('end', () => {
    const t = trailers ?? head;
    if (trailers) events.trailingMetadata(headerListOf(trailers));
    if (t['grpc-status'] === undefined) {
      close(httpStatus === 200 ? GrpcStatus.INTERNAL : grpcStatusOfHttp(httpStatus), `no grpc-status in the answer (HTTP ${httpStatus})`);
    } else if (pending.length) close(GrpcStatus.INTERNAL, 'the answer ended inside a message');
    else close(Number(t['grpc-status']), statusMessage(t['grpc-message']));
  });
  stream.on('error', (err) => close(GrpcStatus.UNAVAILABLE, err.message));
  stream.on('close', () => close(GrpcStatus.UNAVAILABLE, 'the stream closed before the answer ended'));
  return {
    send: (message, endStream) => {
      if (stream.writable) stream.write(frame(message));
      if (endStream) stream.end();
    },
    close: () => { if (!stream.writableEnded) stream.end(); },
    cancel: () => {
      closed = true;
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    },
  };
}

/** A unary call: the request message, one answer message, a deadline (DEADLINE_EXCEEDED past it). */
export function grpcUnary(session: http2.ClientHttp2Session, authority: string, req: GrpcCallRequest): Promise<GrpcCallResponse> {
  return new Promise((resolve) => {
    let answer: Uint8Array | undefined;
    const done = (status: number, statusMessage: string): void => {
      clearTimeout(timer);
      if (status === GrpcStatus.OK && !answer) resolve({ status: GrpcStatus.INTERNAL, statusMessage: 'the answer has no message', message: NO_BYTES });
      else resolve({ status, statusMessage, message: status === GrpcStatus.OK ? answer! : NO_BYTES });
    };
    const call = grpcStream(session, authority, req, {
      initialMetadata() {},
      message(m) { answer ??= m; },
      trailingMetadata() {},
      close: done,
    });
    const timer = req.timeoutMs ? setTimeout(() => { call.cancel(); done(GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded'); }, req.timeoutMs) : undefined;
    call.send(req.message, true);
  });
}
