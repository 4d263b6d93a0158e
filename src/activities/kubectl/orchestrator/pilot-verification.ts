import { spawn } from 'node:child_process';
import { activityInfo, heartbeat } from '@temporalio/activity';
import { scrubTail } from '../../../common/scrub';
import type { ArtifactRef } from '../../artifacts';
import { joinArgv, type OrchestratorCluster, type OrchestratorDeps } from './cluster';

/** Output longer than this goes to an artifact; the history keeps its scrubbed end. */
const OUTPUT_KEPT = 2_000;

/**
 * What of the test flow's output the worker holds: its first 1 Mi characters and its last 4 Mi
 * (the verdict lines come last); what is between is counted and said in the artifact. Before, all
 * of it was held: a flow that printed without end grew the worker until it was killed, and the
 * retried verification killed the next one.
 */
const HEAD_KEPT = 1024 * 1024;
const TAIL_KEPT = 4 * 1024 * 1024;

class BoundedOutput {
  private head = '';
  private tail = '';
  private omitted = 0;

  add(chunk: string): void {
    const intoHead = chunk.slice(0, Math.max(0, HEAD_KEPT - this.head.length));
    this.head += intoHead;
    this.tail += chunk.slice(intoHead.length);
    // Cut back in steps, not at every chunk: each cut copies the tail once.
    if (this.tail.length > 2 * TAIL_KEPT) this.trim();
  }

  text(): string {
    this.trim();
    return this.omitted
      ? `${this.head}\n[… ${this.omitted} characters of output not kept …]\n${this.tail}`
      : this.head + this.tail;
  }

  private trim(): void {
    if (this.tail.length <= TAIL_KEPT) return;
    this.omitted += this.tail.length - TAIL_KEPT;
    this.tail = this.tail.slice(-TAIL_KEPT);
  }
}

/** Seed 002 step 5: the configured test flow on the pilot repo (a local command, argument array, no shell). */
export function createPilotVerification(cluster: OrchestratorCluster, deps: OrchestratorDeps) {
  const { rollback } = cluster;
  return {
    /** Seed 002 step 5: the configured test flow on the pilot repo and its success criteria. */
    runPilotVerification: async () => {
      const { command, timeout, maxDurationSeconds, successPattern, maxCostUsd, costPattern } =
        rollback.pilotVerification;
      const [binary, ...args] = command;
      const started = Date.now();
      const outcome = await new Promise<{
        code: number | null;
        output: string;
        timedOut: boolean;
        spawnError?: string;
      }>((resolve) => {
        const child = spawn(binary!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        const output = new BoundedOutput();
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, timeout);
        const beat = setInterval(() => heartbeat(), 5_000);
        // Decoded per stream, so a character split between two chunks stays whole.
        for (const stream of [child.stdout, child.stderr]) {
          stream.setEncoding('utf8');
          stream.on('data', (chunk: string) => output.add(chunk));
        }
        child.on('error', (error) => {
          clearTimeout(timer);
          clearInterval(beat);
          resolve({ code: null, output: output.text(), timedOut, spawnError: error.message });
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          clearInterval(beat);
          resolve({ code, output: output.text(), timedOut });
        });
      });
      const durationSeconds = (Date.now() - started) / 1000;
      const reasons: string[] = [];
      if (outcome.spawnError) reasons.push(`could not run ${binary}: ${outcome.spawnError}`);
      if (outcome.timedOut) reasons.push(`no result within ${Math.round(timeout / 1000)} s`);
      else if (outcome.code !== 0 && !outcome.spawnError) reasons.push(`exit code ${outcome.code}`);
      if (durationSeconds > maxDurationSeconds)
        reasons.push(`took ${durationSeconds.toFixed(1)} s (> ${maxDurationSeconds} s)`);
      if (successPattern && !new RegExp(successPattern).test(outcome.output))
        reasons.push(`output does not match /${successPattern}/`);
      // Seed 002 step 5 expects "Cost: <$2.00": a run that cost more, or did not say, is not a pass.
      const costText = new RegExp(costPattern).exec(outcome.output)?.[1];
      const costUsd = costText === undefined ? undefined : Number(costText);
      if (costUsd === undefined || !Number.isFinite(costUsd))
        reasons.push(`no cost reported (/${costPattern}/; the seed expects < $${maxCostUsd.toFixed(2)})`);
      else if (costUsd >= maxCostUsd)
        reasons.push(`cost $${costUsd.toFixed(2)} (the seed expects < $${maxCostUsd.toFixed(2)})`);
      let outputArtifact: ArtifactRef | undefined;
      if (outcome.output.length > OUTPUT_KEPT) {
        const { workflowExecution, activityId } = activityInfo();
        const name = `${workflowExecution?.workflowId ?? 'run'}-${activityId}-pilot-verification.log`.replace(
          /[^A-Za-z0-9_.-]/g,
          '_',
        );
        outputArtifact = await deps.artifacts.put(name, outcome.output);
      }
      return {
        ok: reasons.length === 0,
        command: joinArgv(command),
        exitCode: outcome.code,
        durationSeconds,
        ...(costUsd !== undefined && Number.isFinite(costUsd) ? { costUsd } : {}),
        reasons,
        outputTail: scrubTail(outcome.output.split('\n').slice(-15).join('\n'), deps.secrets, OUTPUT_KEPT),
        ...(outputArtifact ? { outputArtifact } : {}),
      };
    },
  };
}
