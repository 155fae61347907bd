/**
 * The `sinks` section of meshpipe's configuration: one entry per sink, each declared next to its code.
 * lib/config/meshpipe-config.ts composes this section, so `meshpipe config` documents every key.
 */
import { s } from '../lib/config/spec.ts';
import { alertsSinkSpec } from './alerts/config.ts';
import { otlpSinkSpec } from './otlp/config.ts';
import { prometheusSinkSpec } from './prometheus/config.ts';

export const sinksSpec = s.object(
  {
    otlp: otlpSinkSpec,
    prometheus: prometheusSinkSpec,
    alerts: alertsSinkSpec,
  },
  { doc: 'Sinks: where meshpipe delivers what leaves Kafka.' },
);
