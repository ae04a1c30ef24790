/**
 * The project's formats as data: the proxy-wasm ABI tables, plugin image media types and
 * annotation keys, and the JSON Schemas of every config file the project reads.
 *
 * The data lives in JSON files beside this module (`abi.json`, `image.json`, `schemas/`);
 * this module only loads and types them, so nothing re-types an enum or a media type.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the higress-plugin package root (the folder holding its package.json). */
export const PACKAGE_ROOT: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'higress-plugin') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`higress-plugin: cannot find the package root above ${start}`);
    dir = parent;
  }
}

/** Folder of the spec data files. */
export const SPEC_DIR = join(PACKAGE_ROOT, 'spec');

function loadJson<T>(relative: string): T {
  return JSON.parse(readFileSync(join(SPEC_DIR, relative), 'utf8')) as T;
}

export type WasmValType = 'i32' | 'i64';
export interface AbiParam { name: string; type: WasmValType }
export interface AbiFunction {
  name: string;
  params: AbiParam[];
  results: WasmValType[];
  /** ABI versions that define this function (host functions and plugin exports). */
  versions?: AbiVersion[];
}
export type AbiVersion = '0.1.0' | '0.2.0' | '0.2.1';

interface AbiFile {
  abiVersions: Record<string, AbiVersion>;
  hostModule: string;
  hostFunctions: AbiFunction[];
  envStubs: AbiFunction[];
  wasiModules: string[];
  wasiFunctions: AbiFunction[];
  pluginExports: AbiFunction[];
  allocatorExports: string[];
  extensions: { callbacksExport: string };
  enums: {
    WasmResult: Record<WasmResultName, number>;
    LogLevel: Record<LogLevelName, number>;
    FilterHeadersStatus: Record<string, number>;
    FilterDataStatus: Record<string, number>;
    FilterTrailersStatus: Record<string, number>;
    Action: Record<'CONTINUE' | 'PAUSE', number>;
    BufferType: Record<BufferTypeName, number>;
    MapType: Record<MapTypeName, number>;
    StreamType: Record<'HTTP_REQUEST' | 'HTTP_RESPONSE' | 'DOWNSTREAM' | 'UPSTREAM', number>;
    StreamCallback: Record<'REQUEST_HEADERS' | 'REQUEST_BODY' | 'REQUEST_TRAILERS' | 'RESPONSE_HEADERS' | 'RESPONSE_BODY' | 'RESPONSE_TRAILERS' | 'NO_STREAM_DONE', number>;
    MetricType: Record<'COUNTER' | 'GAUGE' | 'HISTOGRAM', number>;
    PeerType: Record<'UNKNOWN' | 'LOCAL' | 'REMOTE', number>;
    WasiErrno: Record<'SUCCESS' | 'BADF' | 'FAULT' | 'INVAL' | 'NOENT' | 'NOSYS' | 'NOTSUP', number>;
    /** gRPC status codes (the host's and gateway's answers to `proxy_grpc_call`). */
    GrpcStatus: Record<'OK' | 'CANCELLED' | 'UNKNOWN' | 'INVALID_ARGUMENT' | 'DEADLINE_EXCEEDED' | 'NOT_FOUND' | 'ALREADY_EXISTS' |
      'PERMISSION_DENIED' | 'RESOURCE_EXHAUSTED' | 'FAILED_PRECONDITION' | 'ABORTED' | 'OUT_OF_RANGE' | 'UNIMPLEMENTED' | 'INTERNAL' |
      'UNAVAILABLE' | 'DATA_LOSS' | 'UNAUTHENTICATED', number>;
  };
  pseudoHeaders: string[];
  properties: string[];
}
export type WasmResultName = 'OK' | 'NOT_FOUND' | 'BAD_ARGUMENT' | 'SERIALIZATION_FAILURE' | 'PARSE_FAILURE' |
  'BAD_EXPRESSION' | 'INVALID_MEMORY_ACCESS' | 'EMPTY' | 'CAS_MISMATCH' | 'RESULT_MISMATCH' | 'INTERNAL_FAILURE' |
  'BROKEN_CONNECTION' | 'UNIMPLEMENTED';
export type LogLevelName = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'CRITICAL';
export type BufferTypeName = 'HTTP_REQUEST_BODY' | 'HTTP_RESPONSE_BODY' | 'DOWNSTREAM_DATA' | 'UPSTREAM_DATA' |
  'HTTP_CALL_RESPONSE_BODY' | 'GRPC_RECEIVE_BUFFER' | 'VM_CONFIGURATION' | 'PLUGIN_CONFIGURATION' | 'CALL_DATA';
export type MapTypeName = 'HTTP_REQUEST_HEADERS' | 'HTTP_REQUEST_TRAILERS' | 'HTTP_RESPONSE_HEADERS' |
  'HTTP_RESPONSE_TRAILERS' | 'GRPC_RECEIVE_INITIAL_METADATA' | 'GRPC_RECEIVE_TRAILING_METADATA' |
  'HTTP_CALL_RESPONSE_HEADERS' | 'HTTP_CALL_RESPONSE_TRAILERS';

/** The proxy-wasm ABI tables (`spec/abi.json`). */
export const ABI: Readonly<AbiFile> = loadJson<AbiFile>('abi.json');

export const WasmResult = ABI.enums.WasmResult;
export const LogLevel = ABI.enums.LogLevel;
export const Action = ABI.enums.Action;
export const BufferType = ABI.enums.BufferType;
export const MapType = ABI.enums.MapType;
export const StreamType = ABI.enums.StreamType;
export const StreamCallback = ABI.enums.StreamCallback;
export const MetricType = ABI.enums.MetricType;
export const PeerType = ABI.enums.PeerType;
export const WasiErrno = ABI.enums.WasiErrno;
export const GrpcStatus = ABI.enums.GrpcStatus;

/** Name of an enum value, for messages (`enumName(WasmResult, 6)` → `INVALID_MEMORY_ACCESS`). */
export function enumName(table: Readonly<Record<string, number>>, value: number): string {
  for (const [k, v] of Object.entries(table)) if (v === value) return k;
  return String(value);
}

interface ImageFile {
  mediaTypes: Record<
    'ociManifest' | 'ociIndex' | 'dockerManifest' | 'dockerManifestList' | 'ociLayerTarGzip' | 'dockerLayerTarGzip' |
    'dockerConfig' | 'ociConfig' | 'ociEmpty' | 'wasmContentLayer' | 'wasmConfig' | 'readme' | 'readmeLangPrefix' |
    'readmeLangSuffix' | 'spec' | 'iconPng', string>;
  annotations: Record<'title' | 'created' | 'refName' | 'version' | 'description' | 'source', string>;
  emptyConfig: { mediaType: string; digest: string; size: number; data: string };
  ociLayout: { file: string; content: { imageLayoutVersion: string }; index: string; blobs: string };
  pluginFiles: Record<'wasm' | 'archive' | 'spec' | 'readme' | 'icon', string>;
  limits: { maxWasmBytes: number };
  wasmMagic: string;
}

/** Plugin image media types, annotation keys and limits (`spec/image.json`). */
export const IMAGE: Readonly<ImageFile> = loadJson<ImageFile>('image.json');
export const MEDIA_TYPES = IMAGE.mediaTypes;
export const ANNOTATIONS = IMAGE.annotations;

/** Absolute path of a JSON Schema under `spec/schemas/` (e.g. `schemaPath('gateway-config')`). */
export function schemaPath(name: string): string {
  return join(SPEC_DIR, 'schemas', `${name}.schema.json`);
}

/** Loads a JSON Schema under `spec/schemas/` by name. */
export function loadSchema(name: string): Record<string, unknown> {
  return loadJson<Record<string, unknown>>(join('schemas', `${name}.schema.json`));
}
