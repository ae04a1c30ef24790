/**
 * Package entry of `higress-plugin`: the proxy-wasm host API (compile, configure and run plugins)
 * and its types. The test emulator is also available as `higress-plugin/emulator`.
 */
export * from './host/index.js';
export { Emulator, EmulatedStream, EmulatorChain, type EmulatorOptions, type EmulatedHttpCall, type EmulatedGrpcCall, type EmulatedGrpcStream, type LogEntry } from './emulator/index.js';
