/**
 * The TLS libraries the loader probes, from its TLS_LIBRARY records: each libssl or executable with
 * OpenSSL in it (node) that has uprobes attached, for the log, /metrics and `meshpipe doctor`.
 * A loader run starts from nothing (`reset` on its READY): it attaches again what is in use.
 */
import type { Logger } from '../../lib/logger.ts';
import type { TlsLibraryRecord } from './loader/record-decoder.ts';

export interface TlsLibrary {
  readonly path: string;
  /** The process it was found in (0: found on disk, in a system library directory). */
  readonly pid: number;
  readonly functions: readonly string[];
}

export class TlsLibraries {
  readonly #attached = new Map<string, TlsLibrary>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  apply(r: TlsLibraryRecord): void {
    // One entry per file (inode): containers each have their own libssl at the same path.
    const key = `${r.dev}:${r.ino}`;
    const fields = { path: r.path, pid: r.tgid, functions: r.functions };
    switch (r.state) {
      case 'attached':
        this.#attached.set(key, { path: r.path, pid: r.tgid, functions: r.functions });
        this.#logger.info(fields, 'TLS: reading plaintext through uprobes on this library');
        break;
      case 'detached':
        this.#attached.delete(key);
        this.#logger.info(fields, 'TLS: no process uses this library any more; uprobes removed');
        break;
      case 'failed':
        this.#logger.warn(
          { ...fields, error: r.error },
          "TLS: cannot attach uprobes to this library: its processes' TLS stays opaque",
        );
        break;
      case 'unsupported':
        this.#logger.warn(
          fields,
          "TLS: BoringSSL is not supported: its processes' TLS stays opaque (docs/collector.md, TLS)",
        );
        break;
    }
  }

  reset(): void {
    this.#attached.clear();
  }

  /** The attached libraries. */
  list(): TlsLibrary[] {
    return [...this.#attached.values()];
  }

  /** How many files are attached per path (the metric's series). */
  countByPath(): Map<string, number> {
    const out = new Map<string, number>();
    for (const lib of this.#attached.values()) out.set(lib.path, (out.get(lib.path) ?? 0) + 1);
    return out;
  }
}
