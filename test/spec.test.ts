import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ABI, WasmResult, MapType, MEDIA_TYPES, IMAGE } from '../spec/index.js';

test('ABI table lists every host function with a wasm signature', () => {
  const names = new Set(ABI.hostFunctions.map((f) => f.name));
  for (const n of ['proxy_log', 'proxy_get_log_level', 'proxy_http_call', 'proxy_set_shared_data', 'proxy_call_foreign_function'])
    assert.ok(names.has(n), n);
  const inc = ABI.hostFunctions.find((f) => f.name === 'proxy_increment_metric')!;
  assert.deepEqual(inc.params.map((p) => p.type), ['i32', 'i64']);
  assert.deepEqual(ABI.hostFunctions.find((f) => f.name === 'proxy_get_log_level')!.versions, ['0.2.1']);
});

test('enums carry the proxy-wasm numbering', () => {
  assert.equal(WasmResult.INVALID_MEMORY_ACCESS, 6);
  assert.equal(WasmResult.CAS_MISMATCH, 8);
  assert.equal(MapType.HTTP_CALL_RESPONSE_HEADERS, 6);
});

test('image media types follow the Higress layout', () => {
  assert.equal(MEDIA_TYPES.spec, 'application/vnd.module.wasm.spec.v1+yaml');
  assert.equal(IMAGE.emptyConfig.size, 2);
});
