/**
 * `higress-plugin/emulator`: run a proxy-wasm plugin (.wasm from any SDK) in an emulated host and
 * inspect what it did. See {@link Emulator}.
 */
export {
  Emulator, EmulatorChain, EmulatedStream, toHeaderList,
  type EmulatorOptions, type EmulatedHttpCall, type EmulatedGrpcCall, type EmulatedGrpcStream, type LogEntry, type PhaseOptions,
} from './emulator.js';
export type { HeaderList, PhaseResult, LocalResponse, StreamInfo, HttpCallRequest } from '../host/types.js';
