/**
 * One child process `meshpipe up` runs under the supervisor (up-components.ts lists them). Its own file
 * so that the files producing components (processor-components.ts) and the list do not import each other.
 */
import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import type { CommandContext } from './command.ts';
import type { Endpoints } from './endpoints.ts';

export interface UpContext {
  config: MeshpipeConfig;
  values: CommandContext['values'];
  endpoints: Endpoints;
}

export interface UpComponent {
  name: string;
  /** Whether `up` runs it, given flags and configuration. */
  enabled(ctx: UpContext): boolean;
  /** `meshpipe` arguments of the child process, e.g. ['collect'] or ['process', 'span-assembler']. */
  args(ctx: UpContext): string[];
  /** Extra environment for the child. */
  env?(ctx: UpContext): Record<string, string>;
  /** Restart the child when it sends no status for this long (ms). */
  stallMs?: number;
}
