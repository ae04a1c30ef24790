/**
 * The proxy-wasm host: compile a plugin module once ({@link PluginModule}), configure plugins
 * ({@link Plugin}: a VM + root context with a fail strategy) and run HTTP streams through an
 * ordered list of them ({@link FilterChain}). Knows nothing of HTTP servers: the proxy drives it
 * through header lists, byte chunks and {@link PhaseResult}s.
 */
export { PluginModule } from './plugin-module.js';
export { Plugin, type PluginStats, type VmUser } from './plugin.js';
export { FilterChain } from './filter-chain.js';
export { InMemorySharedState } from './shared-state.js';
export { MetricRegistry, HISTOGRAM_BUCKETS, type MetricResult } from './metric-registry.js';
export { encodeHeaders } from './header-codec.js';
export {
  HostError, PluginLoadError, PluginConfigureError, VmFailureError, type HostErrorCode,
} from './errors.js';
export type {
  HeaderList, FailStrategy, StreamInfo, LocalResponse, PhaseResult, HttpCallRequest, HttpCallResponse, GrpcCallRequest, GrpcCallResponse, GrpcStreamRequest, GrpcStreamEvents, GrpcStreamHandle,
  HostEnvironment, SharedState, SharedQueueOwner, MetricSample, MetricStore, PluginOptions,
} from './types.js';
