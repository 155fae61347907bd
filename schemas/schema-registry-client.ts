/**
 * A client of the Confluent Schema Registry REST API
 * (https://docs.confluent.io/platform/current/schema-registry/develop/api.html), the dialect every
 * Kafka tool speaks: Confluent Schema Registry, Apicurio Registry's `/apis/ccompat/v7`, Redpanda,
 * Karapace, AWS Glue's and Azure's compatibility layers. meshpipe needs five calls of it: register a
 * schema under a subject, look one up, read a subject's versions, set a subject's compatibility, and
 * fetch a schema by id.
 *
 * Authentication is what those registries accept: HTTP basic (Confluent Cloud API keys, Karapace,
 * Redpanda) or a bearer token (OAuth/OIDC, Apicurio with Keycloak); TLS with a private CA and client
 * certificates (mutual TLS). Credentials never appear in errors or logs.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import type { AvroSchema } from './avro-types.ts';

export interface SchemaRegistryClientOptions {
  /** Base URL of the Confluent-compatible API, e.g. http://registry:8081 or http://apicurio:8080/apis/ccompat/v7. */
  url: string;
  /** HTTP basic authentication (with `password`). */
  username?: string;
  password?: string;
  /** `Authorization: Bearer <token>` (instead of basic authentication). */
  bearerToken?: string;
  /** PEM: CA certificates of the registry's certificate (default: the system roots). */
  ca?: Buffer;
  /** PEM client certificate and key, for mutual TLS. */
  cert?: Buffer;
  key?: Buffer;
  /** Deadline of one request, ms. */
  timeoutMs: number;
}

export type Compatibility =
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE'
  | 'NONE';

interface Response {
  status: number;
  body: unknown;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
/** Error codes of the API: subject, version or schema not found. */
const NOT_FOUND_CODES = new Set([40401, 40402, 40403]);

export class SchemaRegistryClient {
  readonly url: string;
  readonly #base: URL;
  readonly #options: SchemaRegistryClientOptions;
  readonly #agent: HttpAgent;
  readonly #authorization: string | undefined;

  constructor(options: SchemaRegistryClientOptions) {
    this.#options = options;
    this.#base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.url = this.#base.href.replace(/\/$/, '');
    const tls = this.#base.protocol === 'https:';
    this.#agent = tls
      ? new HttpsAgent({
          keepAlive: true,
          ...(options.ca === undefined ? {} : { ca: options.ca }),
          ...(options.cert === undefined ? {} : { cert: options.cert }),
          ...(options.key === undefined ? {} : { key: options.key }),
        })
      : new HttpAgent({ keepAlive: true });
    if (options.bearerToken !== undefined && options.bearerToken !== '') {
      this.#authorization = `Bearer ${options.bearerToken}`;
    } else if (options.username !== undefined && options.username !== '') {
      this.#authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
    }
  }

  /** Registers `schema` under `subject` (idempotent: an identical schema keeps its id); returns its id. */
  async register(subject: string, schema: AvroSchema): Promise<number> {
    const r = await this.#call('POST', `subjects/${encodeURIComponent(subject)}/versions`, {
      schema: JSON.stringify(schema),
    });
    if (r.status === 200) return this.#idOf(r.body, `registering a schema under subject ${subject}`);
    throw this.#refused(`registering a schema under subject ${subject}`, r);
  }

  /** The id of `schema` under `subject`, or undefined when the subject does not have it. */
  async lookup(subject: string, schema: AvroSchema): Promise<number | undefined> {
    const r = await this.#call('POST', `subjects/${encodeURIComponent(subject)}`, {
      schema: JSON.stringify(schema),
    });
    if (r.status === 200) return this.#idOf(r.body, `looking up a schema under subject ${subject}`);
    if (notFound(r)) return undefined;
    throw this.#refused(`looking up a schema under subject ${subject}`, r);
  }

  /** The version numbers registered under `subject` (empty when it does not exist). */
  async versions(subject: string): Promise<number[]> {
    const r = await this.#call('GET', `subjects/${encodeURIComponent(subject)}/versions`);
    if (r.status === 200 && Array.isArray(r.body)) return r.body as number[];
    if (notFound(r)) return [];
    throw this.#refused(`listing the versions of subject ${subject}`, r);
  }

  async setCompatibility(subject: string, compatibility: Compatibility): Promise<void> {
    const r = await this.#call('PUT', `config/${encodeURIComponent(subject)}`, { compatibility });
    if (r.status !== 200) throw this.#refused(`setting the compatibility of subject ${subject}`, r);
  }

  /** The schema registered as `id` (its text and type), or undefined when the registry has no such id. */
  async schemaById(id: number): Promise<{ text: string; schemaType: string } | undefined> {
    const r = await this.#call('GET', `schemas/ids/${id}`);
    if (notFound(r)) return undefined;
    const body = r.body as { schema?: unknown; schemaType?: unknown } | null;
    if (r.status !== 200 || typeof body?.schema !== 'string') throw this.#refused(`fetching schema ${id}`, r);
    // AVRO is the default type, and is then left out of the answer.
    return { text: body.schema, schemaType: typeof body.schemaType === 'string' ? body.schemaType : 'AVRO' };
  }

  close(): void {
    this.#agent.destroy();
  }

  #idOf(body: unknown, what: string): number {
    const id = (body as { id?: unknown } | null)?.id;
    if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 0x7fffffff) return id;
    throw new MeshpipeError(ERRORS.SCHEMA_REGISTRY_REFUSED, [
      this.url,
      what,
      200,
      `the answer has no usable schema id: ${JSON.stringify(body).slice(0, 200)}`,
    ]);
  }

  #refused(what: string, r: Response): MeshpipeError {
    const body = r.body as { message?: unknown; error_code?: unknown } | null;
    const message = typeof body?.message === 'string' ? body.message : JSON.stringify(r.body).slice(0, 300);
    if (r.status === 409) return new MeshpipeError(ERRORS.SCHEMA_REGISTRY_INCOMPATIBLE, [what, message]);
    const hint =
      r.status === 401 || r.status === 403
        ? 'check kafka.schemaRegistry.username/password or bearerToken, and what this user may do'
        : undefined;
    const err = new MeshpipeError(
      ERRORS.SCHEMA_REGISTRY_REFUSED,
      [this.url, what, r.status, message],
      hint === undefined ? {} : { hint },
    );
    return Object.assign(err, { status: r.status });
  }

  #call(method: string, path: string, body?: unknown): Promise<Response> {
    const url = new URL(path, this.#base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { Accept: `${CONTENT_TYPE}, application/json` };
    if (payload !== undefined) {
      headers['Content-Type'] = CONTENT_TYPE;
      headers['Content-Length'] = String(payload.length);
    }
    if (this.#authorization !== undefined) headers.Authorization = this.#authorization;
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const unavailable = (why: string) =>
        reject(new MeshpipeError(ERRORS.SCHEMA_REGISTRY_UNAVAILABLE, [this.url, why]));
      const req = request(url, { method, headers, agent: this.#agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => unavailable(err.message));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text === '' ? null : JSON.parse(text);
          } catch {
            // Not JSON (a proxy's error page): kept as text for the message.
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.setTimeout(this.#options.timeoutMs, () => {
        req.destroy();
        unavailable(`no answer within ${this.#options.timeoutMs} ms`);
      });
      req.on('error', (err) => unavailable(err.message));
      req.end(payload);
    });
  }
}

function notFound(r: Response): boolean {
  const code = (r.body as { error_code?: unknown } | null)?.error_code;
  return r.status === 404 && (typeof code !== 'number' || NOT_FOUND_CODES.has(code));
}
