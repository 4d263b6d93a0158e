import { z } from 'zod';
import { setTimeout as delay } from 'node:timers/promises';
import { requiredSection } from '../../validation';
import { heartbeatIfInActivity } from '../../heartbeat';
import { joinArgv, type OrchestratorCluster } from './cluster';

/**
 * Seed 003 step 2, "freeze writes": the policy's non-idempotent writers scaled to zero and the
 * fence set, confirmed by reading both back; the unfreeze after green. The replicas a writer had
 * are written on the writer itself (an annotation) before it is scaled, so a retry — or another
 * worker after a crash — restores what it had, never the zero it now shows.
 */

export const FROZEN_FROM_ANNOTATION = 'runbooks.durable/frozen-from-replicas';
/** How long the writers' pods may take to stop (graceful shutdown) before the freeze is not confirmed. */
const WRITERS_STOP_WITHIN_MS = 120_000;
const READ_BACK_EVERY_MS = 2_000;

export interface WriterState {
  deployment: string;
  replicas: number;
  readyReplicas: number;
  /** The replicas before the freeze (the annotation), while frozen. */
  frozenFrom?: number;
}

export interface WriterFreezeState {
  writers: WriterState[];
  fence: string | undefined;
  /** Freeze: every writer at zero (none ready) and the fence at its frozen value; unfreeze: restored and open. */
  confirmed: boolean;
  /** The kubectl commands that changed something (none on a retry after success). */
  commands: string[];
  checkedAt: string;
}

const deploymentSchema = z.looseObject({
  metadata: z.looseObject({ annotations: z.record(z.string(), z.string()).optional() }),
  spec: z.looseObject({ replicas: z.number().int().optional() }),
  status: z.looseObject({ readyReplicas: z.number().int().optional() }).optional(),
});
const configMapSchema = z.looseObject({ data: z.record(z.string(), z.string()).optional() });

type Freeze = NonNullable<OrchestratorCluster['rollback']['writerFreeze']>;

function freezePolicy(cluster: OrchestratorCluster): Freeze {
  return requiredSection(cluster.rollback.writerFreeze, 'runbooks.rollbackToPilot.writerFreeze');
}

async function readWriter(cluster: OrchestratorCluster, name: string): Promise<WriterState> {
  const read = await cluster.kubectl(['get', `deployment/${name}`, '-o', 'json']);
  const deployment = deploymentSchema.parse(JSON.parse(read.stdout));
  const from = deployment.metadata.annotations?.[FROZEN_FROM_ANNOTATION];
  return {
    deployment: name,
    replicas: deployment.spec.replicas ?? 1,
    readyReplicas: deployment.status?.readyReplicas ?? 0,
    ...(from !== undefined && /^\d+$/.test(from) ? { frozenFrom: Number(from) } : {}),
  };
}

async function readFence(cluster: OrchestratorCluster, freeze: Freeze): Promise<string | undefined> {
  const read = await cluster.kubectl(['get', `configmap/${freeze.fence.configMap}`, '-o', 'json']);
  return configMapSchema.parse(JSON.parse(read.stdout)).data?.[freeze.fence.key];
}

/** Runs one change and keeps its command line for the record. */
async function change(cluster: OrchestratorCluster, commands: string[], args: string[]): Promise<void> {
  commands.push(joinArgv((await cluster.kubectl(args)).argv));
}

async function setFence(cluster: OrchestratorCluster, freeze: Freeze, commands: string[], value: string) {
  if ((await readFence(cluster, freeze)) === value) return;
  const patch = JSON.stringify({ data: { [freeze.fence.key]: value } });
  await change(cluster, commands, [
    'patch',
    `configmap/${freeze.fence.configMap}`,
    '--type',
    'merge',
    '-p',
    patch,
  ]);
}

async function readBack(
  cluster: OrchestratorCluster,
  freeze: Freeze,
  commands: string[],
  confirmed: (writers: WriterState[], fence: string | undefined) => boolean,
): Promise<WriterFreezeState> {
  const writers = await Promise.all(freeze.writers.map((name) => readWriter(cluster, name)));
  const fence = await readFence(cluster, freeze);
  return {
    writers,
    fence,
    confirmed: confirmed(writers, fence),
    commands,
    checkedAt: new Date().toISOString(),
  };
}

/** Annotate (once) → scale to 0 → fence frozen; then read back. Check-then-act at each step. */
async function freezeWriters(cluster: OrchestratorCluster): Promise<WriterFreezeState> {
  const freeze = freezePolicy(cluster);
  const commands: string[] = [];
  for (const name of freeze.writers) {
    const writer = await readWriter(cluster, name);
    if (writer.frozenFrom === undefined)
      await change(cluster, commands, [
        'annotate',
        `deployment/${name}`,
        `${FROZEN_FROM_ANNOTATION}=${writer.replicas}`,
        '--overwrite',
      ]);
    if (writer.replicas !== 0)
      await change(cluster, commands, ['scale', `deployment/${name}`, '--replicas=0']);
  }
  await setFence(cluster, freeze, commands, freeze.fence.frozen);
  // Pods stop gracefully: read back until none is ready, or the bound passes (then: not confirmed).
  const deadline = Date.now() + WRITERS_STOP_WITHIN_MS;
  for (;;) {
    const state = await readBack(
      cluster,
      freeze,
      commands,
      (writers, fence) =>
        fence === freeze.fence.frozen && writers.every((w) => w.replicas === 0 && w.readyReplicas === 0),
    );
    if (state.confirmed || Date.now() >= deadline) return state;
    heartbeatIfInActivity();
    await delay(READ_BACK_EVERY_MS);
  }
}

/** Fence open → each writer back to its annotated replicas → the annotation removed; then read back. */
async function unfreezeWriters(cluster: OrchestratorCluster): Promise<WriterFreezeState> {
  const freeze = freezePolicy(cluster);
  const commands: string[] = [];
  await setFence(cluster, freeze, commands, freeze.fence.open);
  const restored: Record<string, number> = {};
  for (const name of freeze.writers) {
    const writer = await readWriter(cluster, name);
    if (writer.frozenFrom === undefined) continue;
    restored[name] = writer.frozenFrom;
    if (writer.replicas !== writer.frozenFrom)
      await change(cluster, commands, ['scale', `deployment/${name}`, `--replicas=${writer.frozenFrom}`]);
    await change(cluster, commands, ['annotate', `deployment/${name}`, `${FROZEN_FROM_ANNOTATION}-`]);
  }
  return readBack(
    cluster,
    freeze,
    commands,
    (writers, fence) =>
      fence === freeze.fence.open &&
      writers.every(
        (w) => w.frozenFrom === undefined && (restored[w.deployment] ?? w.replicas) === w.replicas,
      ),
  );
}

export function createWriterFreeze(cluster: OrchestratorCluster) {
  return {
    freezeWriters: (): Promise<WriterFreezeState> => freezeWriters(cluster),
    unfreezeWriters: (): Promise<WriterFreezeState> => unfreezeWriters(cluster),
  };
}
