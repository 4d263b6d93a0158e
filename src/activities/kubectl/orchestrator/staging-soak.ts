import { createHash } from 'node:crypto';
import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { formatDuration } from '../../../common/duration';
import { kubernetesName } from '../../../common/names';
import type { OrchestratorPolicy, StagingSoakPolicy } from '../../../common/policy';
import { scrubTail } from '../../../common/scrub';
import { parseInput, requiredSection } from '../../validation';
import { runKubectl, type KubectlResult, type KubectlTarget } from '../kubectl';
import { joinArgv } from './cluster';

/**
 * Seed 002 §2: the fix soaks in staging as a Kubernetes Job, so the soak outlives any worker; the
 * job's name comes from the run (workflow id and run id), so starting it again finds the same job.
 * The job is bounded by the policy's maxDuration (spec.activeDeadlineSeconds): Kubernetes stops it
 * then, even when the run that started it was aborted or gave up on it.
 */

export interface StagingSoakJob {
  job: string;
  namespace: string;
  /** The kubectl command that created it (absent when it already existed: a retry). */
  command?: string;
  created: boolean;
  /** When Kubernetes stops the job, from its start (the policy's maxDuration). */
  activeDeadlineSeconds?: number;
}

export interface StagingSoakSummary {
  successRate: number;
  p95Seconds: number;
  recurrences: number;
}

export interface StagingSoakReading {
  job: string;
  state: 'running' | 'succeeded' | 'failed';
  startedAt?: string;
  completedAt?: string;
  /** The job's own run time, when it has finished. */
  ranSeconds?: number;
  summary?: StagingSoakSummary;
  /** Why the soak did not pass (empty when it passed or is still running). */
  reasons: string[];
  logTail?: string;
}

const jobSchema = z.looseObject({
  status: z
    .looseObject({
      active: z.number().int().optional(),
      succeeded: z.number().int().optional(),
      failed: z.number().int().optional(),
      startTime: z.string().optional(),
      completionTime: z.string().optional(),
      conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).optional(),
    })
    .optional(),
});

const summarySchema = z.looseObject({
  successRate: z.number().min(0).max(1),
  p95Seconds: z.number().min(0),
  recurrences: z.number().int().min(0),
});

const startInputSchema = z.object({ repos: z.array(kubernetesName).min(1).max(500) }).strict();
/** The soak job a read is about. */
const jobInputSchema = z.object({ job: kubernetesName }).strict();
/** The soak job a stop is about; none named: this run's own (a start that failed may have created it). */
const stopInputSchema = z.object({ job: kubernetesName.optional() }).strict();

/** What stopping the soak job did: `deleted` false when it was gone already (a retry, or Kubernetes). */
export interface StagingSoakStopped {
  job: string;
  namespace: string;
  deleted: boolean;
  command: string;
}

/** The job's summary: the last log line that parses as one. */
function summaryIn(log: string): StagingSoakSummary | undefined {
  for (const line of log.trim().split('\n').reverse()) {
    const text = line.trim();
    if (!text.startsWith('{')) continue;
    try {
      const parsed = summarySchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
    } catch {
      // not JSON: an ordinary log line
    }
  }
  return undefined;
}

/** Why a finished soak did not pass (none: it passed), and how long the job ran. */
function judgeSoak(
  soak: StagingSoakPolicy,
  state: 'succeeded' | 'failed',
  status: NonNullable<z.output<typeof jobSchema>['status']>,
  summary: StagingSoakSummary | undefined,
): { reasons: string[]; ranMs: number | undefined } {
  const reasons: string[] = [];
  if (state === 'failed') reasons.push('the soak job failed');
  const ranMs =
    status.startTime && status.completionTime
      ? Date.parse(status.completionTime) - Date.parse(status.startTime)
      : undefined;
  // The seed's 2–4 h is a minimum: a job that stopped early did not soak, whatever it reports.
  if (state === 'failed') return { reasons: [...reasons, ...summaryReasons(soak, summary)], ranMs };
  if (ranMs === undefined || !Number.isFinite(ranMs))
    reasons.push('the job reports no start and completion time');
  else if (ranMs < soak.duration)
    reasons.push(`it ran ${formatDuration(ranMs)}, less than the soak's ${formatDuration(soak.duration)}`);
  return { reasons: [...reasons, ...summaryReasons(soak, summary)], ranMs };
}

/** The seed's criteria: success rate ≥ 99 %, p95 < 120 s, zero recurrence. */
function summaryReasons(soak: StagingSoakPolicy, summary: StagingSoakSummary | undefined): string[] {
  const reasons: string[] = [];
  if (!summary) reasons.push('no summary in its log (a JSON line with successRate, p95Seconds, recurrences)');
  else {
    if (summary.successRate < soak.successRateMin)
      reasons.push(
        `success rate ${(summary.successRate * 100).toFixed(2)} % (< ${soak.successRateMin * 100} %)`,
      );
    if (summary.p95Seconds >= soak.p95MaxSeconds)
      reasons.push(`p95 ${summary.p95Seconds} s (≥ ${soak.p95MaxSeconds} s)`);
    if (summary.recurrences > soak.recurrencesMax)
      reasons.push(
        `${summary.recurrences} recurrences of the incident's symptoms (at most ${soak.recurrencesMax})`,
      );
  }
  return reasons;
}

/**
 * Deletes the soak job of a run that stops waiting for it (an abort): left running, it loads
 * staging until its deadline, beside the soak of the next run. Gone already is done (idempotent).
 */
async function deleteSoakJob(
  kubectl: (args: string[]) => Promise<KubectlResult>,
  namespace: string,
  job: string,
): Promise<StagingSoakStopped> {
  const deleted = await kubectl(['delete', `job/${job}`, '--ignore-not-found=true', '--wait=false']);
  return { job, namespace, deleted: deleted.stdout.includes('deleted'), command: joinArgv(deleted.argv) };
}

/** The run's soak job: named from its workflow and run id, so a retry or another worker finds it. */
function soakJobName(): string {
  const execution = activityInfo().workflowExecution;
  const run = `${execution?.workflowId ?? ''}/${execution?.runId ?? ''}`;
  return `runbooks-soak-${createHash('sha256').update(run).digest('hex').slice(0, 16)}`;
}

type UnboundedJob = Omit<StagingSoakJob, 'activeDeadlineSeconds'>;

/** Gives the job the policy's maxDuration as its deadline (Kubernetes stops it then). */
async function withDeadline(
  kubectl: (args: string[]) => Promise<unknown>,
  soak: StagingSoakPolicy,
  found: UnboundedJob,
): Promise<StagingSoakJob> {
  const activeDeadlineSeconds = Math.ceil(soak.maxDuration / 1000);
  await kubectl([
    'patch',
    `job/${found.job}`,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { activeDeadlineSeconds } }),
  ]);
  return { ...found, activeDeadlineSeconds };
}

export function createStagingSoak(deps: {
  orchestrator: OrchestratorPolicy;
  soak: StagingSoakPolicy | undefined;
  secrets: readonly string[];
}) {
  const policy = (): StagingSoakPolicy =>
    requiredSection(deps.soak, 'runbooks.phasedReenablement.stagingSoak');
  const target = (soak: StagingSoakPolicy): KubectlTarget => ({
    context: soak.kubeContext ?? deps.orchestrator.kubeContext,
    namespace: soak.namespace,
  });
  const kubectl = (soak: StagingSoakPolicy, args: string[]) =>
    runKubectl(target(soak), args, { timeoutMs: deps.orchestrator.kubectlTimeout });

  return {
    /** Creates the soak job of this run unless it exists (a retry, or another worker, finds it). */
    startStagingSoak: async (raw: z.input<typeof startInputSchema>): Promise<StagingSoakJob> => {
      const { repos } = parseInput(startInputSchema, raw, 'startStagingSoak input');
      const soak = policy();
      const job = soakJobName();
      // Set on every attempt: a retry after the create (or a crash before the patch) still bounds it.
      const bounded = (found: UnboundedJob) => withDeadline((args) => kubectl(soak, args), soak, found);
      /** kubectl, or undefined when it fails with the expected answer (not found, already exists). */
      const unless = async (expected: RegExp, args: string[]) => {
        try {
          return await kubectl(soak, args);
        } catch (error) {
          if (error instanceof ApplicationFailure && expected.test(error.message)) return undefined;
          throw error;
        }
      };
      if (await unless(/NotFound|not found/, ['get', `job/${job}`, '-o', 'name']))
        return bounded({ job, namespace: soak.namespace, created: false });
      const argv = [
        'create',
        'job',
        job,
        `--image=${soak.image}`,
        '--',
        ...soak.command,
        '--repos',
        repos.join(','),
        '--duration',
        formatDuration(soak.duration),
      ];
      // Already there: created meanwhile by an attempt that timed out after kubectl succeeded.
      const created = await unless(/AlreadyExists|already exists/, argv);
      return bounded(
        created
          ? { job, namespace: soak.namespace, command: joinArgv(created.argv), created: true }
          : { job, namespace: soak.namespace, created: false },
      );
    },

    /** Deletes the soak job of an aborted run (see deleteSoakJob). */
    stopStagingSoak: async (raw: z.input<typeof stopInputSchema>): Promise<StagingSoakStopped> => {
      const { job } = parseInput(stopInputSchema, raw, 'stopStagingSoak input');
      return deleteSoakJob((args) => kubectl(policy(), args), policy().namespace, job ?? soakJobName());
    },

    /** The soak job's state; once finished, its summary judged against the policy's criteria. */
    readStagingSoak: async (raw: z.input<typeof jobInputSchema>): Promise<StagingSoakReading> => {
      const { job } = parseInput(jobInputSchema, raw, 'readStagingSoak input');
      const soak = policy();
      const read = await kubectl(soak, ['get', `job/${job}`, '-o', 'json']);
      const status = jobSchema.parse(JSON.parse(read.stdout)).status ?? {};
      const failedCondition = status.conditions?.some((c) => c.type === 'Failed' && c.status === 'True');
      const state = (status.succeeded ?? 0) > 0 ? 'succeeded' : failedCondition ? 'failed' : 'running';
      const times = {
        ...(status.startTime ? { startedAt: status.startTime } : {}),
        ...(status.completionTime ? { completedAt: status.completionTime } : {}),
      };
      if (state === 'running') return { job, state, ...times, reasons: [] };
      const log = (await kubectl(soak, ['logs', `job/${job}`, '--tail=50'])).stdout;
      const summary = summaryIn(log);
      const { reasons, ranMs } = judgeSoak(soak, state, status, summary);
      return {
        job,
        state,
        ...times,
        ...(ranMs !== undefined && Number.isFinite(ranMs) ? { ranSeconds: Math.round(ranMs / 1000) } : {}),
        ...(summary ? { summary } : {}),
        reasons,
        logTail: scrubTail(log.split('\n').slice(-10).join('\n'), deps.secrets, 1_000),
      };
    },
  };
}
