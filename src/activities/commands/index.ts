import type { Pool } from 'pg';
import { z } from 'zod';
import { revertCommandArguments } from '../../common/backstop';
import { storyIdSchema } from '../../common/names';
import type { BackstopPolicy } from '../../common/policy';
import { deliveredReceipt, recordReceipt } from '../delivery-ledger';
import { launchFile } from '../exec/launcher';
import { parseInput } from '../validation';
import { scrubTail } from '../../common/scrub';

/** Local commands the policy names (the backstop's revert command). */

export interface CommandRun {
  argv: string[];
  exitCode: number | null;
  ok: boolean;
  stdoutTail: string;
  stderrTail: string;
  durationMs: number;
  /** True when the ledger already had this run (a retry after it completed). */
  replayed: boolean;
}

const runRevertSchema = z
  .object({
    story: storyIdSchema,
    sha: z.string().regex(/^[0-9a-f]{7,40}$/),
    deliveryKey: z.string().min(1).max(400),
  })
  .strict();

export function createCommandActivities(deps: {
  db: Pool;
  backstop: BackstopPolicy;
  secrets: readonly string[];
}) {
  // The end of the output, scrubbed of secrets before it enters the history.
  const tail = (text: string): string =>
    scrubTail(text.trim().split('\n').slice(-20).join('\n'), deps.secrets, 4_000);
  return {
    /**
     * Runs the policy's revert command once per delivery key, with execFile and an argument array
     * ({story} and {sha} substituted as whole arguments' parts, never through a shell). A completed
     * successful run is recorded in the delivery ledger, so a retry returns it instead of running it
     * again; a failed run is not, so a human's retry runs it again.
     * The workflow schedules it with a single attempt: a run cut short is reported, not repeated.
     */
    runRevertCommand: async (raw: {
      story: string;
      sha: string;
      deliveryKey: string;
    }): Promise<CommandRun> => {
      const input = parseInput(runRevertSchema, raw, 'runRevertCommand input');
      const configured = deps.backstop.revertCommand;
      if (!configured) throw new Error('no revert command configured');
      const recorded = await deliveredReceipt<CommandRun>(deps.db, input.deliveryKey, 'revert-command');
      if (recorded) return { ...recorded, replayed: true };
      const argv = revertCommandArguments(configured.command, input.story, input.sha);
      const started = Date.now();
      const run = await new Promise<CommandRun>((resolve) => {
        launchFile(
          argv[0]!,
          argv.slice(1),
          { timeout: configured.timeout, maxBuffer: 8 * 1024 * 1024, killSignal: 'SIGKILL' },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
            resolve({
              argv,
              exitCode: code,
              ok: !error,
              stdoutTail: tail(stdout),
              stderrTail: tail(error && !stderr ? error.message : stderr),
              durationMs: Date.now() - started,
              replayed: false,
            });
          },
        );
      });
      // Only a revert that worked is final: a failed one runs again when a human says retry.
      if (run.ok) await recordReceipt(deps.db, input.deliveryKey, 'revert-command', run);
      return run;
    },
  };
}
