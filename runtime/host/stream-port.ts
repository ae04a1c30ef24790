/**
 * What a stream context's host calls reach: one plugin's view of one HTTP stream. The filter
 * chain implements it (one port per plugin per stream); the host functions only call these
 * methods, so they never see the chain's internals.
 */
import type { HeaderList, LocalResponse, StreamInfo } from './types.js';

export interface StreamPort {
  readonly info: StreamInfo;
  /** Values set with `proxy_set_property` on this stream (shared by the chain's plugins). */
  readonly properties: Map<string, Uint8Array>;
  /** Header map by map type (0–3); undefined when that map does not exist (yet). */
  map(mapType: number): HeaderList | undefined;
  /** Whether the map may still be changed (false once forwarded, as in Envoy). */
  mapWritable(mapType: number): boolean;
  /** Body bytes the plugin currently holds for buffer type 0/1; undefined outside the body phase. */
  body(bufferType: number): Uint8Array | undefined;
  /** Replaces the held body bytes; false when there is no such buffer now. */
  setBody(bufferType: number, bytes: Uint8Array): boolean;
  /** `proxy_continue_stream` (0 request, 1 response): a WasmResult status. */
  continueStream(streamType: number): number;
  /** `proxy_close_stream`: a WasmResult status. */
  closeStream(streamType: number): number;
  /** `proxy_send_local_response`: a WasmResult status. */
  sendLocalResponse(response: LocalResponse): number;
}
