/**
 * A printable copy of the configuration: `meshpipe config --effective` shows what is in effect without
 * showing credentials. Masked: passwords, secrets, tokens, API keys and signatures by key name, every
 * value of a `headers` map (they carry Authorization and API keys), and every URL the way lib/mask.ts
 * prints URLs (userinfo password, path past its first segment, parameter values). Names of environment
 * variables that hold secrets (`secretEnv`) are not secrets and stay visible.
 */
import { MASK, maskUrl } from '../mask.ts';

export { MASK };

const SECRET_KEY = /password|secret|token|api.?key|signature|credential/i;
const NOT_SECRET = new Set(['secretEnv']);

export function redactConfig(value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (value !== '' && SECRET_KEY.test(key) && !NOT_SECRET.has(key)) return MASK;
    return maskUrl(value);
  }
  if (Array.isArray(value)) return value.map((v) => redactConfig(v, key));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'headers' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
        out[k] = Object.fromEntries(Object.keys(v).map((name) => [name, MASK]));
      } else {
        out[k] = redactConfig(v, k);
      }
    }
    return out;
  }
  return value;
}
