import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { parseInput } from '../../validation';
import type { OrchestratorCluster, OrchestratorDeps } from './cluster';

/** Seed 002 pre-rollback 3: deployment and configmap as YAML, kept as backup artifacts. */
async function backupManifests(
  cluster: OrchestratorCluster,
  deps: OrchestratorDeps,
  raw: { backupKey: string },
) {
  const { orchestrator, kubectl } = cluster;
  const input = parseInput(
    z.object({ backupKey: z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/) }).strict(),
    raw,
    'backupManifests input',
  );
  const artifacts = [];
  for (const [kind, name] of [
    ['deployment', orchestrator.deployment],
    ['configmap', orchestrator.configMap],
  ] as const) {
    const result = await kubectl(['get', kind, name, '-o', 'yaml']);
    // The YAML (inline env values, the last-applied annotation) stays in the file; the history
    // keeps where it is, its sha256 and size, and a short scrubbed excerpt.
    // Its excerpt names the object only: a manifest's first lines carry the last-applied annotation.
    const ref = await deps.artifacts.put(
      `${input.backupKey}-${kind}-${name}.yaml`,
      result.stdout,
      `${kind}/${name} in ${orchestrator.namespace} (${orchestrator.kubeContext}): ${result.stdout.split('\n').length} lines of YAML`,
    );
    artifacts.push({ kind, name, ...ref });
  }
  return artifacts;
}

/**
 * Seed 002 pre-rollback 3: `pg_dump` of TaskDB through `kubectl exec`, gzipped to the backup
 * folder. Runs as its own long activity that the workflow does not wait for (it never blocks the
 * rollback); heartbeats while streaming; a retry after completion returns the finished file.
 */
async function backupDatabase(
  cluster: OrchestratorCluster,
  deps: OrchestratorDeps,
  raw: { backupKey: string },
) {
  const { orchestrator, rollback } = cluster;
  const input = parseInput(
    z.object({ backupKey: z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/) }).strict(),
    raw,
    'backupDatabase input',
  );
  const { postgres } = rollback;
  mkdirSync(deps.backupDirectory, { recursive: true });
  const file = path.join(deps.backupDirectory, `taskdb_pre_rollback_${input.backupKey}.sql.gz`);
  const done = `${file}.sha256`;
  if (existsSync(done) && existsSync(file)) {
    return {
      path: file,
      bytes: statSync(file).size,
      sha256: readFileSync(done, 'utf8').trim(),
      reused: true,
    };
  }
  const argv = [
    '--context',
    orchestrator.kubeContext,
    '--namespace',
    orchestrator.namespace,
    'exec',
    `deployment/${postgres.deployment}`,
    '--',
    'pg_dump',
    '-U',
    postgres.user,
    postgres.database,
  ];
  const partial = `${file}.partial`;
  const hash = createHash('sha256');
  // spawn (argument array, no shell) rather than execFile: the dump is streamed, not buffered.
  const child = spawn(process.env.KUBECTL ?? 'kubectl', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  child.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
  // The exit and the end of the file are awaited independently: either can come first.
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const out = createWriteStream(partial);
  const beat = setInterval(() => heartbeat({ bytes: out.bytesWritten }), 5_000);
  let code: number | null;
  try {
    [code] = await Promise.all([exited, pipeline(child.stdout, createGzip(), out)]);
  } finally {
    clearInterval(beat);
  }
  if (code !== 0)
    throw ApplicationFailure.create({
      type: 'BackupFailed',
      message: `pg_dump failed (exit ${code}): ${stderr.trim().slice(-500)}`,
    });
  renameSync(partial, file);
  const sha256 = hash.digest('hex');
  writeFileSync(done, `${sha256}\n`);
  return { path: file, bytes: statSync(file).size, sha256, reused: false };
}

/** Seed 002 pre-rollback 3: the deployment and configmap YAML, and a pg_dump of TaskDB, kept as files. */
export function createOrchestratorBackups(cluster: OrchestratorCluster, deps: OrchestratorDeps) {
  return {
    backupManifests: (raw: { backupKey: string }) => backupManifests(cluster, deps, raw),
    backupDatabase: (raw: { backupKey: string }) => backupDatabase(cluster, deps, raw),
  };
}
