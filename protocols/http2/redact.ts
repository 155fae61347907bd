/**
 * Redaction of decoded HTTP/2 header fields before they leave the node, by the HTTP/1.x policy
 * (protocols/http1/redact.ts: the same sensitive names, query parameters and marker, one
 * configuration), plus what only HTTP/2 and gRPC have:
 * - a value the sender encoded as "never indexed" (RFC 7541 §7.1.3: the encoder's own mark of a
 *   sensitive value, e.g. nghttp2 for authorization and short cookies) is redacted;
 * - gRPC binary metadata (`*-bin`, base64 of arbitrary bytes: tokens, serialized credentials) is
 *   redacted unless configured otherwise (`redactBinaryMetadata: false`);
 * - `:path`, and fields whose value is a URL (referer, location...), are redacted as a
 *   request-target (path secrets, query parameters), `:authority` loses any userinfo;
 * - a value whose name could not be resolved (a table reference from before the capture) cannot be
 *   judged, so it is redacted.
 */

import {
  DEFAULT_REDACTION_POLICY,
  isSensitiveHeaderName,
  isUrlHeaderName,
  type RedactionPolicy,
  redactTarget,
} from '../http1/redact.ts';
import type { HpackField } from './hpack-decoder.ts';
import type { Http2Field } from './types.ts';

export interface Http2RedactionOptions {
  /** The compiled HTTP/1.x policy (names, query parameters, marker); default the built-in one. */
  readonly policy?: RedactionPolicy;
  /** Redact gRPC binary metadata values (`*-bin`); default true. */
  readonly redactBinaryMetadata?: boolean;
}

export interface Http2RedactionResult {
  readonly fields: Http2Field[];
  readonly redactions: number;
}

const markers = new WeakMap<RedactionPolicy, string>();

function markerOf(policy: RedactionPolicy): string {
  let m = markers.get(policy);
  if (m === undefined) {
    m = String.fromCharCode(...policy.marker);
    markers.set(policy, m);
  }
  return m;
}

export function redactFields(
  fields: readonly HpackField[],
  options: Http2RedactionOptions = {},
): Http2RedactionResult {
  const policy = options.policy ?? DEFAULT_REDACTION_POLICY;
  const binary = options.redactBinaryMetadata ?? true;
  const marker = markerOf(policy);
  const out: Http2Field[] = new Array(fields.length);
  let redactions = 0;
  for (let i = 0; i < fields.length; i++) {
    const { name, value, neverIndexed } = fields[i]!;
    let v = value;
    if (v !== null) {
      if (
        name === null ||
        neverIndexed ||
        isSensitiveHeaderName(name, policy) ||
        (binary && name.endsWith('-bin'))
      ) {
        v = marker;
        redactions++;
      } else if (name === ':path' || isUrlHeaderName(name, policy)) {
        const r = redactTarget(v, policy);
        v = r.target;
        redactions += r.redactions;
      } else if (name === ':authority') {
        const at = v.lastIndexOf('@');
        if (at !== -1) {
          v = marker + v.slice(at);
          redactions++;
        }
      }
    }
    out[i] = { name, value: v };
  }
  return { fields: out, redactions };
}
