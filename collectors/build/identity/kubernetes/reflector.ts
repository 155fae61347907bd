/**
 * List + watch of one kind of object, with the semantics of client-go's reflector (what an informer
 * is made of), on the maintained client's `Watch` and list calls (@kubernetes/client-node):
 *
 *   list (paged, `limit`)  ─► replace the store, remember the list's resourceVersion
 *   watch from it          ─► ADDED / MODIFIED / DELETED into the store; BOOKMARK moves the version on
 *   watch ends normally    ─► watch again from the last version (the server closes watches every few minutes)
 *   410 Gone (ERROR event or status) ─► the version is too old: relist
 *   any other error        ─► backoff (1 s doubling to 30 s, with jitter), then watch again; relist after
 *                             repeated failures
 *
 * Objects are reduced to what the decorator uses before they are stored (kube-objects.ts); the raw JSON
 * is dropped at once. Counters say how many restarts and relists happened and why.
 */
import type { KubeConfig, KubernetesObjectApi, Watch } from '@kubernetes/client-node';
import { kubernetesClient } from './client-library.ts';

export interface ReflectorStore<T> {
  replace(items: T[]): void;
  upsert(item: T): void;
  remove(item: T): void;
}

export interface ReflectorCounters {
  /** Watches re-established, by why the previous one ended. */
  restarts: Record<string, number>;
  /** Full lists done (the first one included). */
  lists: number;
  /** Objects the API server sent that could not be read (missing name, uid...). */
  unreadable: number;
}

export interface ReflectorOptions<T> {
  kubeConfig: KubeConfig;
  apiVersion: string;
  kind: string;
  /** Collection path for the watch, e.g. /api/v1/pods. */
  path: string;
  fieldSelector?: string;
  /** The slim record of a raw object, or null when it cannot be read. */
  slim(raw: unknown): T | null;
  store: ReflectorStore<T>;
  /** Page size of lists. Default 500. */
  pageSize?: number;
  /** Server-side watch timeout, seconds (a fresh watch after it, without relist). Default 300. */
  watchTimeoutSeconds?: number;
  /** Called on every failure (for logs). */
  onError?: (err: unknown, what: string) => void;
  /** Backoff bounds, ms (tests shorten them). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

const GONE = 410;

function statusCode(err: unknown): number | null {
  // biome-ignore lint/suspicious/noExplicitAny: errors of the client carry code or statusCode
  const e = err as any;
  const code = e?.code ?? e?.statusCode ?? e?.response?.statusCode;
  return typeof code === 'number' ? code : null;
}

export class Reflector<T> {
  readonly counters: ReflectorCounters = { restarts: {}, lists: 0, unreadable: 0 };
  readonly #o: ReflectorOptions<T>;
  readonly #api: KubernetesObjectApi;
  readonly #watch: Watch;
  #resourceVersion = '';
  #stopped = false;
  #abort: AbortController | null = null;
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  /** Why this side ended the current watch (an ERROR event), so that `#ended` knows. */
  #endedBy: 'gone' | 'error-event' | null = null;
  #synced: Promise<void>;
  #resolveSynced!: () => void;

  constructor(options: ReflectorOptions<T>) {
    this.#o = options;
    const client = kubernetesClient();
    this.#api = client.KubernetesObjectApi.makeApiClient(options.kubeConfig);
    this.#watch = new client.Watch(options.kubeConfig);
    // The client gives up on a watch silent for requestTimeoutMs (30 s by default), but a quiet
    // resource sends nothing but a bookmark about once a minute: wait for the server's own timeout.
    // (The field is TypeScript-private in the client, with no option to set it.)
    (this.#watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs =
      ((options.watchTimeoutSeconds ?? 300) + 60) * 1000;
    this.#synced = new Promise((resolve) => {
      this.#resolveSynced = resolve;
    });
  }

  /** Resolves after the first complete list (the store holds every object then). */
  get synced(): Promise<void> {
    return this.#synced;
  }

  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  start(): void {
    void this.#run(true);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#abort?.abort();
  }

  #count(reason: string): void {
    this.counters.restarts[reason] = (this.counters.restarts[reason] ?? 0) + 1;
  }

  async #run(relist: boolean): Promise<void> {
    if (this.#stopped) return;
    try {
      if (relist || this.#resourceVersion === '') await this.#list();
      if (this.#stopped) return;
      this.#abort = await this.#watch.watch(
        this.#o.path,
        {
          allowWatchBookmarks: true,
          resourceVersion: this.#resourceVersion,
          timeoutSeconds: this.#o.watchTimeoutSeconds ?? 300,
          ...(this.#o.fieldSelector === undefined ? {} : { fieldSelector: this.#o.fieldSelector }),
        },
        (type, object) => this.#event(type, object),
        (err) => this.#ended(err),
      );
    } catch (err) {
      this.#ended(err);
    }
  }

  async #list(): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let version = '';
    do {
      const page = await this.#api.list(
        this.#o.apiVersion,
        this.#o.kind,
        undefined,
        undefined,
        undefined,
        undefined,
        this.#o.fieldSelector,
        undefined,
        this.#o.pageSize ?? 500,
        cont,
      );
      for (const raw of page.items) {
        const item = this.#o.slim(raw);
        if (item === null) this.counters.unreadable++;
        else items.push(item);
      }
      cont = page.metadata?._continue ?? (page.metadata as { continue?: string } | undefined)?.continue;
      version = page.metadata?.resourceVersion ?? version;
    } while (cont !== undefined && cont !== '' && !this.#stopped);
    if (this.#stopped) return;
    this.#o.store.replace(items);
    this.#resourceVersion = version;
    this.counters.lists++;
    this.#failures = 0;
    this.#resolveSynced();
  }

  #event(type: string, object: unknown): void {
    // biome-ignore lint/suspicious/noExplicitAny: watch events carry raw objects
    const o = object as any;
    if (type === 'ERROR') {
      // A Status object: 410 means our version is older than etcd's compaction window.
      // Anything else (an internal error) is handled like a failed watch.
      this.#endedBy = o?.code === GONE ? 'gone' : 'error-event';
      this.#abort?.abort();
      return;
    }
    const version = o?.metadata?.resourceVersion;
    if (typeof version === 'string') this.#resourceVersion = version;
    if (type === 'BOOKMARK') return;
    const item = this.#o.slim(o);
    if (item === null) {
      this.counters.unreadable++;
      return;
    }
    if (type === 'DELETED') this.#o.store.remove(item);
    else this.#o.store.upsert(item);
    this.#failures = 0;
  }

  #ended(err: unknown): void {
    this.#abort = null;
    if (this.#stopped) return;
    const by = this.#endedBy;
    this.#endedBy = null;
    if (by === 'gone') err = { code: GONE };
    else if (by === 'error-event') err ??= new Error('the watch sent an ERROR event');
    if (err === null || err === undefined) {
      // The server closed the watch (timeoutSeconds) or the version was found gone: go on at once.
      if (this.#resourceVersion === '') {
        void this.#run(true);
      } else {
        this.#count('closed');
        void this.#run(false);
      }
      return;
    }
    const code = statusCode(err);
    if (code === GONE) {
      this.#count('gone');
      this.#resourceVersion = '';
      void this.#run(true);
      return;
    }
    this.#count('error');
    this.#o.onError?.(err, `${this.#o.kind} list/watch`);
    this.#failures++;
    const min = this.#o.minBackoffMs ?? 1000;
    const max = this.#o.maxBackoffMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** Math.min(this.#failures - 1, 10)) * (0.8 + Math.random() * 0.4);
    // After several failures in a row the cached state may have missed deletions: relist.
    const relist = this.#failures >= 3 || this.#resourceVersion === '';
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#run(relist);
    }, delay);
    this.#timer.unref();
  }
}
