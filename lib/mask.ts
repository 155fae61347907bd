/**
 * One way to print a value that may hold a secret, for everything meshpipe itself prints or logs:
 * `config --effective`, `up`, `stack start`, `doctor`, `alerts status`, the alert sink's logs and errors.
 *
 * A URL is shown as scheme, user and host, its first path segment, and its parameter names:
 *   redis://default:s3cret@redis:6379/0                   → redis://default:***@redis:6379/0
 *   https://hooks.slack.com/services/T0/B0/XXXXXXXX       → https://hooks.slack.com/services/…
 *   https://example.com/hook?token=abc#x                  → https://example.com/hook?token=***
 * because a webhook URL often is the credential (Slack, Discord and Teams put it in the path) and a
 * secret in a path cannot be told from an id by looking at it. Anything that is not `scheme://…` is
 * left as it is.
 */
export const MASK = '***';

const URL_LIKE = /^([a-z][a-z0-9+.-]*):\/\//i;

export function maskUrl(value: string): string {
  const scheme = URL_LIKE.exec(value);
  if (scheme === null) return value;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return `${scheme[1]}://${MASK}`;
  }
  const userinfo =
    u.username === '' && u.password === '' ? '' : `${u.username}${u.password === '' ? '' : `:${MASK}`}@`;
  const segments = u.pathname.split('/').filter((s) => s !== '');
  const path = segments.length === 0 ? '' : `/${segments[0]}${segments.length > 1 ? '/…' : ''}`;
  const names = [...new Set(u.searchParams.keys())];
  const query = names.length === 0 ? '' : `?${names.map((n) => `${n}=${MASK}`).join('&')}`;
  return `${u.protocol}//${userinfo}${u.host}${path}${query}`;
}
