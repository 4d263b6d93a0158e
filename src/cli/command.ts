import type { CommandContext } from './client';
import type { Values } from './args';

/**
 * One CLI command: it validates every option before anything connects (a typo never reaches
 * Temporal) and returns the work to do against Temporal, which says what to print.
 */
export interface Command {
  name: string;
  /** The section of the help it is listed under. */
  group: string;
  /** "--incident <id> --by <@handle> …": the options, for the help. */
  usage: string;
  prepare(values: Values, positionals: string[]): Prepared;
}

/** What a command prints: JSON under --json, text otherwise; a non-zero exit code on a refusal. */
export interface Printed {
  json: unknown;
  text: string;
  exitCode?: number;
}

export type Prepared = (ctx: CommandContext) => Promise<Printed>;
