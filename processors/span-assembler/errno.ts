/**
 * Linux errno values connect() reports, by name, for `error.type` on the CLIENT span of a failed
 * connection (asm-generic/errno.h; the numbers are the same on every architecture meshpipe runs on).
 */
const CONNECT_ERRNO: Readonly<Record<number, string>> = {
  1: 'EPERM',
  4: 'EINTR',
  11: 'EAGAIN',
  13: 'EACCES',
  22: 'EINVAL',
  24: 'EMFILE',
  97: 'EAFNOSUPPORT',
  98: 'EADDRINUSE',
  99: 'EADDRNOTAVAIL',
  100: 'ENETDOWN',
  101: 'ENETUNREACH',
  103: 'ECONNABORTED',
  104: 'ECONNRESET',
  105: 'ENOBUFS',
  110: 'ETIMEDOUT',
  111: 'ECONNREFUSED',
  112: 'EHOSTDOWN',
  113: 'EHOSTUNREACH',
  114: 'EALREADY',
  115: 'EINPROGRESS',
};

/** `ECONNREFUSED` for 111; `errno_<n>` for numbers not in the table, `connect_failed` without one. */
export function errnoName(errno: number | null): string {
  if (errno === null) return 'connect_failed';
  const n = Math.abs(errno);
  return CONNECT_ERRNO[n] ?? `errno_${n}`;
}
