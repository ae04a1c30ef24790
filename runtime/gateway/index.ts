/**
 * The local gateway: a reverse proxy that runs proxy-wasm plugin chains from Higress-style
 * configuration, with hot reload, worker processes and an admin API.
 */
export { startGateway, type Gateway, type GatewayOptions } from './gateway.js';
export { ControlPlane, type ConfigSource, type ReloadResult, type ReloadFailure } from './control-plane.js';
export { DataPlane } from './data-plane.js';
export { loadConfig, buildModel, sortPlugins, type LoadOptions } from './config-loader.js';
export { buildPluginConfig } from './wasm-plugin-config.js';
export type { ConfigModel, ModelRoute, ModelCluster, ModelPlugin, ModelListener } from './config-model.js';
export { GatewayError, ConfigError, UpstreamError, CONFIG_CODES } from './errors.js';
