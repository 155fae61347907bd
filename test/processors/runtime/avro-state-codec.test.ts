/**
 * State values of a declared Avro type: every value span-assembler's state holds on a real workload
 * round-trips exactly (and is far smaller than its JSON); a value written with an older version of the
 * type is read by schema resolution; a changelog value written by the JSON codec still restores.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grpcWorkload } from '../../../bench/span-assembler/grpc-workload.ts';
import { keepAliveWorkload } from '../../../bench/span-assembler/workload.ts';
import { avroStateCodec } from '../../../processors/runtime/avro-state-codec.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { testProcessor } from '../../../processors/runtime/test-context.ts';
import spanAssembler from '../../../processors/span-assembler/index.ts';
import type { ConnState } from '../../../processors/span-assembler/state.ts';
import { toJsonSafe } from '../../../schemas/codec.ts';
import { SchemaRegistry } from '../../../schemas/registry.ts';

const codec = spanAssembler.stores!.connections.codec();
const json = jsonStateCodec<ConnState>();

describe('Avro state codec', () => {
  // Optional fields the state leaves out (an HTTP/1.x side's h2, a request's stream id) read back as
  // null, which the assembler treats alike.
  const absentAsNull = (value: unknown): unknown =>
    JSON.parse(
      JSON.stringify(toJsonSafe(value), (k, v) =>
        (k === 'h2' || k === 'streamId') && v === null ? undefined : v,
      ),
    );

  for (const [name, workload] of [
    ['HTTP/1.x keep-alive', keepAliveWorkload({ connections: 20, exchangesPerConnection: 10 })],
    ['gRPC, calls in flight', grpcWorkload({ connections: 10, callsPerConnection: 20, inFlight: 4 })],
  ] as const) {
    it(`round-trips every state value span-assembler keeps (${name}), smaller than JSON`, () => {
      const t = testProcessor(spanAssembler);
      let values = 0;
      let avroBytes = 0;
      let jsonBytes = 0;
      for (const [i, ev] of workload.events.entries()) {
        t.setTime(Number(ev.timeUnixNano / 1_000_000n));
        t.process(ev, { key: ev.connection.key });
        if (i % 7 !== 0) continue;
        for (const key of t.stores.connections.keys()) {
          const value = t.stores.connections.get(key)!;
          const bytes = codec.encode(value);
          assert.deepEqual(absentAsNull(codec.decode(bytes)), absentAsNull(value), key);
          avroBytes += bytes.length;
          jsonBytes += json.encode(value).length;
          values++;
        }
      }
      assert.ok(values > 100, `${values} values`);
      assert.ok(avroBytes * 2 < jsonBytes, `${avroBytes} B Avro, ${jsonBytes} B JSON`);
    });
  }

  it('reads a value written with an older version of the type, and one written as JSON', () => {
    const registry = new SchemaRegistry();
    const v1 = {
      type: 'record',
      name: 'Counter',
      namespace: 'test.state',
      fields: [{ name: 'n', type: 'long' }],
    };
    const v2 = {
      ...v1,
      fields: [...v1.fields, { name: 'label', type: ['null', 'string'], default: null }],
    };
    const old = avroStateCodec<{ n: bigint }>(v1 as never, { registry });
    const current = avroStateCodec<{ n: bigint; label: string | null }>(v2 as never, {
      registry,
      history: [v1 as never],
      legacy: jsonStateCodec(),
    });
    assert.deepEqual(toJsonSafe(current.decode(old.encode({ n: 7n }))), { n: '7', label: null });
    assert.deepEqual(current.decode(jsonStateCodec().encode({ n: 9n, label: 'x' })), { n: 9n, label: 'x' });
    assert.throws(() => current.encode(undefined as never), /undefined/);
  });
});
