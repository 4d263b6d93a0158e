import type { Command } from './command';
import { backstopCommands } from './commands/backstop';
import { breakGlassCommands } from './commands/break-glass';
import { incidentCommands } from './commands/incident';
import { reenablementCommands } from './commands/reenablement';
import { releaseRollbackCommands } from './commands/release-rollback';
import { rollbackCommands } from './commands/rollback';
import { runCommands } from './commands/runs';

/** Every command, in the order the help lists them. */
export const COMMANDS: Command[] = [
  ...breakGlassCommands.filter(
    (command) => command.name.startsWith('start-') || command.name === 'schedule-drill',
  ),
  ...incidentCommands,
  ...rollbackCommands,
  ...reenablementCommands,
  ...backstopCommands,
  ...releaseRollbackCommands,
  ...runCommands,
  ...breakGlassCommands.filter(
    (command) => !command.name.startsWith('start-') && command.name !== 'schedule-drill',
  ),
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}

export function usage(): string {
  const groups = new Map<string, Command[]>();
  for (const command of COMMANDS) groups.set(command.group, [...(groups.get(command.group) ?? []), command]);
  const sections = [...groups].map(
    ([group, commands]) =>
      `${group}:\n${commands.map((command) => `  ${command.name.padEnd(24)} ${command.usage}`).join('\n')}`,
  );
  return [
    'Usage: npm run cli -- <command> [options] [--json]',
    '',
    sections.join('\n\n'),
    '',
    'A run is named by --workflow-id, or by --incident (its running run is found; --procedure A|B|C|D|rollback|',
    'reenablement|freeze-lift picks one when an incident has several). --json prints machine-readable output.',
    '',
    'Decisions (approve, reject, abort, retry, skip, pause, resume, confirm-rollback, rca-filed, post-mortem-filed,',
    'acknowledge-conflict, check-reconciliation, backstop decide) are Workflow Updates: the run answers at once,',
    'the CLI prints "accepted" or "REFUSED (<reason>): <why>" and exits 1 on a refusal, 3 when no answer came',
    'within --wait seconds (30; is the worker running?). --signal sends the decision as a signal instead (no answer).',
    '',
    "Connection: Temporal's environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,",
    'TEMPORAL_TLS_*, TEMPORAL_PROFILE); without any, a running local stack (npm run stack) is found through',
    '.stack/connection.json, else 127.0.0.1:7233 / default. Task queue: RUNBOOKS_TASK_QUEUE (runbooks).',
  ].join('\n');
}
