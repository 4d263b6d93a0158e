import type { RunLogContext } from '../../common/log-context';

/**
 * Where the run's log context is read from: its RunRecord (runbook, incident, current step), for
 * the workflow interceptor that sends it with each activity. Module state is the run's own: the
 * SDK evaluates this module once per run (it is not one of the preloaded modules).
 */
let source: (() => RunLogContext) | undefined;

export function setRunLogContextSource(read: () => RunLogContext): void {
  source = read;
}

export function runLogContext(): RunLogContext | undefined {
  return source?.();
}
