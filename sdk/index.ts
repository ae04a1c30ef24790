// @higress-plugin/sdk: write Higress-style proxy-wasm plugins in AssemblyScript.
// See README.md for the guide. A plugin's entry file also needs:
//   export * from "@higress-plugin/sdk/exports";
import "./assembly/abort";

export { Action, Header, LogLevel, WasmResult, MapType, BufferType, StreamType, MetricType,
  FilterHeadersStatus, FilterDataStatus, FilterTrailersStatus, PeerType } from "./assembly/types";
export { HttpContext, Phase } from "./assembly/http-context";
export { definePlugin, configOf, Plugin, ConfigParser, RuleConfigParser, HeadersHandler, BodyHandler,
  StreamingBodyHandler, StreamDoneHandler, TickHandler } from "./assembly/plugin";
export { JsonValue, JsonObject, JsonArray, JsonKind, newJsonObject, parseJson, jsonParseError, jsonQuote } from "./assembly/json";
export { configError } from "./assembly/errors";
export { log, logEnabled, logAt } from "./assembly/log";
export { ClusterClient, Cluster, FQDNCluster, K8sCluster, StaticIpCluster, DnsCluster, HttpCallResponse,
  HttpCallback } from "./assembly/cluster";
export { GrpcClient, GrpcResponse, GrpcCallback, GrpcStream, GrpcStreamHandler } from "./assembly/grpc";
export { stripPort } from "./assembly/rule-matcher";
export { Regex, regexError } from "./assembly/regex";
export { getCurrentTimeNanoseconds, getSharedData, setSharedData, SharedValue, callForeignFunction } from "./assembly/hostcalls";
export { base64Decode, base64DecodeString, base64Encode, base64EncodeString } from "./assembly/base64";
export { pathOnly, queryOf, urlDecode, urlEncode, parseQuery, queryParam, withQuery } from "./assembly/url";
export { IpRange, parseIp, parseCidr, hostOfAddress } from "./assembly/ip";
export { Counter, Gauge, Histogram, metricName } from "./assembly/metrics";
export { getSharedString, setSharedString, sharedAdd } from "./assembly/shared-data";
