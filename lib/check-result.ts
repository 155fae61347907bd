/**
 * One fact `meshpipe doctor` reports (cli/stack/doctor.ts). Here, below every layer, because components
 * contribute checks of their own (the collector's Kubernetes access, collectors/build/identity/kubernetes).
 */
export interface CheckResult {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** What to do about a warn/fail. */
  fix?: string;
  /** The facts behind the detail, for --json (the TLS check's libraries). */
  data?: unknown;
}
