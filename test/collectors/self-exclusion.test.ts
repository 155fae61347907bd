/**
 * Under `meshpipe up` the collector is one child of a supervisor among others (processors, sinks, the
 * demo controller), whose HTTP — metrics endpoints, webhooks, admin calls — is meshpipe's own and must
 * not come back as application telemetry. A real Supervisor (cli/stack/supervisor.ts) runs `meshpipe collect`
 * and a sibling making HTTP traffic; a process with another parent makes the same traffic. Only the
 * latter reaches Kafka. Needs root.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { choosePort } from '../../cli/stack/ports.ts';
import { Supervisor } from '../../cli/stack/supervisor.ts';
import { type TestKafka, testKafka, testLogger } from '../../testkit/kafka.ts';
import { requireRoot } from '../bpf/helpers/pods.ts';
import { CLI } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';
import { FIXTURES, RawTopicReader, testPort } from './helpers/harness.ts';

requireRoot();

const SIBLING_PORT = testPort();
const OTHER_PORT = SIBLING_PORT + 1;

describe("collector: meshpipe's own processes are not captured", () => {
  let k: TestKafka;
  let dir: string;
  let supervisor: Supervisor | undefined;
  let otherPid: number | undefined;
  let metricsPort: number;

  before(async () => {
    k = await testKafka('self-exclusion');
    await k.createTopics();
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-self-'));
    const config = join(dir, 'meshpipe.json');
    writeFileSync(config, JSON.stringify({ collector: { ports: [SIBLING_PORT, OTHER_PORT] } }));
    metricsPort = await choosePort(39_480);
    supervisor = new Supervisor({ logger: testLogger, logDir: join(dir, 'logs') });
    supervisor.start({
      name: 'collector',
      modulePath: CLI,
      args: ['collect'],
      env: { ...k.env, MESHPIPE_CONFIG: config, MESHPIPE_COLLECTOR_METRICS_PORT: String(metricsPort) },
    });
    supervisor.start({
      name: 'sibling',
      modulePath: `${FIXTURES}http-loop.ts`,
      args: [String(SIBLING_PORT)],
    });
    // Not a child of the supervisor: started through a shell that exits at once (re-parented).
    otherPid = Number(
      execFileSync(
        'sh',
        ['-c', `${process.execPath} ${FIXTURES}http-loop.ts ${OTHER_PORT} >/dev/null 2>&1 & echo $!`],
        {
          encoding: 'utf8',
        },
      ).trim(),
    );
  });

  after(async () => {
    if (otherPid !== undefined) process.kill(otherPid, 'SIGTERM');
    await supervisor?.stop();
    await k?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("drops the supervisor's children's traffic and counts it, keeps everyone else's", async () => {
    const reader = await RawTopicReader.start(k.kafka, k.topic('raw'));
    try {
      await reader.waitFor(
        "the other process's requests",
        (r) =>
          r.records.filter(
            (x) => x.event.connection.peerPort === OTHER_PORT && x.event.direction === 'INGRESS',
          ).length >= 5,
        60_000,
      );
      const excluded = await waitFor('exclusions counted', async () => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        const m = /^meshpipe_collector_events_excluded_total\{reason="self"\} (\d+)$/m.exec(text);
        return m !== null && Number(m[1]) >= 10 && Number(m[1]);
      });
      assert.ok(excluded >= 10);
      const leaked = reader.records.filter(
        (x) => x.event.connection.localPort === SIBLING_PORT || x.event.connection.peerPort === SIBLING_PORT,
      );
      assert.deepEqual(
        leaked.map((x) => x.event.process.pid),
        [],
        'no event of the sibling',
      );
    } finally {
      await reader.stop();
    }
  });
});
