/**
 * A real Jaeger v2 for tests: the binary scripts/setup builds from Go modules (.local/jaeger/<version>),
 * with in-memory storage and every port free and on 127.0.0.1 (tests of other worktrees run at the same
 * time), started and stopped by the test that uses it. OTLP over gRPC and HTTP in; out, the query API
 * Jaeger's UI reads (/api/services, /api/traces).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ephemeralPort } from '../../cli/stack/ports.ts';
import { jaegerBinary } from '../../lib/paths.ts';

/** A span as Jaeger's query API returns it (its own model: tags, and processes for resources). */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags: Array<{ key: string; type: string; value: unknown }>;
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<
    string,
    { serviceName: string; tags: Array<{ key: string; type: string; value: unknown }> }
  >;
}

type Ports = Record<'grpc' | 'http' | 'query' | 'queryGrpc' | 'health', number>;

function config(ports: Ports): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${ports.health}
  jaeger_storage:
    backends:
      memory_store:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memory_store
    http:
      endpoint: 127.0.0.1:${ports.query}
    grpc:
      endpoint: 127.0.0.1:${ports.queryGrpc}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${ports.grpc}
      http:
        endpoint: 127.0.0.1:${ports.http}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memory_store
`;
}

export class Jaeger {
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #ports: Ports;
  #log = '';

  private constructor(child: ChildProcess, dir: string, ports: Ports) {
    this.#child = child;
    this.#dir = dir;
    this.#ports = ports;
    child.stdout!.on('data', (d) => this.#append(d));
    child.stderr!.on('data', (d) => this.#append(d));
  }

  #append(d: Buffer): void {
    this.#log = (this.#log + d.toString()).slice(-8000);
  }

  static async start(): Promise<Jaeger> {
    const binary = jaegerBinary();
    if (!existsSync(binary))
      throw new Error(`${binary} is missing: run scripts/setup (it builds Jaeger from Go modules)`);
    const ports = {
      grpc: await ephemeralPort(),
      http: await ephemeralPort(),
      query: await ephemeralPort(),
      queryGrpc: await ephemeralPort(),
      health: await ephemeralPort(),
    };
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-jaeger-'));
    writeFileSync(join(dir, 'config.yaml'), config(ports));
    const child = spawn(binary, ['--config', join(dir, 'config.yaml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const jaeger = new Jaeger(child, dir, ports);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`jaeger exited with ${child.exitCode}: ${jaeger.#log}`);
      try {
        const services = await fetch(`${jaeger.queryUrl}/api/services`, {
          signal: AbortSignal.timeout(1000),
        });
        if (services.ok) return jaeger;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await jaeger.stop();
        throw new Error(`jaeger did not answer within 60 s: ${jaeger.#log}`);
      }
      await sleep(200);
    }
  }

  /** OTLP/gRPC endpoint. */
  get grpcEndpoint(): string {
    return `http://127.0.0.1:${this.#ports.grpc}`;
  }

  /** OTLP/HTTP base URL (the traces path is /v1/traces). */
  get httpEndpoint(): string {
    return `http://127.0.0.1:${this.#ports.http}`;
  }

  get queryUrl(): string {
    return `http://127.0.0.1:${this.#ports.query}`;
  }

  async services(): Promise<string[]> {
    const body = (await (await fetch(`${this.queryUrl}/api/services`)).json()) as { data: string[] | null };
    return body.data ?? [];
  }

  /** A trace by id, or undefined while Jaeger does not have it. */
  async trace(traceId: string): Promise<JaegerTrace | undefined> {
    const res = await fetch(`${this.queryUrl}/api/traces/${traceId}`);
    if (res.status === 404) return undefined;
    const body = (await res.json()) as { data: JaegerTrace[] | null };
    return body.data?.[0];
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null) {
      const exited = new Promise((r) => this.#child.once('exit', r));
      this.#child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000).then(() => this.#child.kill('SIGKILL'))]);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
