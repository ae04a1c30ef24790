/**
 * The OCI client shared by the CLI and the gateway: registry protocol and auth, credentials,
 * image layout, plugin image formats, and the plugin fetcher. This list is the public contract.
 */
export * from './errors.js';
export { sha256Digest, isDigest, normalizeDigest, verifyContent } from './digest.js';
export { parseReference, formatReference, manifestReference, isLoopbackHost, type Reference } from './reference.js';
export { parseChallenge, type Challenge } from './auth/challenge.js';
export { repositoryScope, mergeScopes } from './auth/scope.js';
export {
  defaultCredentialProvider, dockerConfigProvider, dockerConfigPath, runCredentialHelper, envCredential, toProvider, CREDENTIAL_ENV,
  type Credential, type CredentialProvider, type CredentialSource, type DockerConfigOptions,
} from './auth/credentials.js';
export { AuthClient, type AuthClientOptions } from './auth/auth-client.js';
export { Repository, type RepositoryOptions, type TransferEvent, type FetchedManifest } from './registry-client.js';
export { MANIFEST_ACCEPT, describe, isManifestType, isIndexType, type Descriptor, type Manifest, type ImageIndex } from './descriptor.js';
export { ImageLayout, atomicWrite } from './image-layout.js';
export {
  buildPluginImage, buildDockerPluginImage, buildWasmLayerPluginImage, pluginArchive, readmeMediaType, selectPluginLayer, wasmFromLayer,
  checkWasmMagic, parseManifest, selectFromIndex, isIndexManifest, type PluginImageInput, type BuiltImage, type ImageFile, type PluginImageFormat, type PluginLayer,
} from './plugin-image.js';
export { pushImage, pullImage, fetchPluginManifest, memorySource, type ContentSource, type PushResult, type PulledImage } from './image-copy.js';
export { createTar, gzipReproducible, readTar, checkEntryName, type TarEntry } from './tar-gz.js';
export { fetchPlugin, defaultCacheDir, type FetchPluginOptions, type FetchedPlugin } from './plugin-fetcher.js';
export { wasmInfo, readProducers, type WasmInfo } from './wasm-info.js';
