import type { Pool } from 'pg';
import { z } from 'zod';
import type { PrometheusPolicy } from '../../common/policy';
import type { ArtifactRef, ArtifactStore } from '../artifacts';
import { deliveredReceipt, recordReceipt } from '../delivery-ledger';
import { joinArgv, type OrchestratorCluster } from '../kubectl/orchestrator/cluster';
import { queryPrometheus } from '../metrics';
import { parseInput } from '../validation';

/**
 * Seed 004 §1.4 "Preserve. Snapshot logs, metrics, traces, DB state before touching anything."
 * The orchestrator's log tail, the incident metrics as Prometheus answers them now, and a reference
 * to the database's state (its WAL position and the live config row) are kept as artifacts: the
 * history holds where each is and its sha256, never the content. A retry after the first success
 * returns the first answer (the delivery ledger, keyed by the incident's evidence key).
 */

const inputSchema = z
  .object({
    evidenceKey: z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/, 'must be letters, digits, ".", "_", "-"'),
    window: z.string().regex(/^\d+[smhd]$/, 'must be a Prometheus duration like 1h'),
  })
  .strict();
export type PreserveEvidenceInput = z.input<typeof inputSchema>;

export interface PreservedEvidence {
  preservedAt: string;
  logs: ArtifactRef & { command: string; lines: number };
  metrics: ArtifactRef & { queries: string[] };
  database: ArtifactRef & { walLsn: string };
}

const LEDGER_CHANNEL = 'evidence';

export interface EvidenceDeps {
  db: Pool;
  cluster: OrchestratorCluster;
  prometheus: PrometheusPolicy;
  artifacts: ArtifactStore;
}

async function databaseReference(db: Pool): Promise<{ walLsn: string; text: string }> {
  const { rows } = await db.query<{ at: Date; lsn: string; snapshot: string }>(
    'SELECT now() AS at, pg_current_wal_lsn()::text AS lsn, txid_current_snapshot()::text AS snapshot',
  );
  const live = await db.query<Record<string, unknown>>(
    'SELECT id, version, updated_at, updated_by, md5(base_env::text) AS base_env_md5 FROM ftf_config WHERE id = 1',
  );
  const history = await db.query<{ max: number | null }>('SELECT max(id) AS max FROM ftf_config_history');
  const reference = {
    at: rows[0]!.at.toISOString(),
    walLsn: rows[0]!.lsn,
    snapshot: rows[0]!.snapshot,
    liveRow: live.rows[0] ?? null,
    latestHistoryId: history.rows[0]?.max ?? null,
  };
  return { walLsn: reference.walLsn, text: `${JSON.stringify(reference, null, 2)}\n` };
}

async function preserveIncidentEvidence(
  deps: EvidenceDeps,
  raw: PreserveEvidenceInput,
): Promise<PreservedEvidence> {
  const input = parseInput(inputSchema, raw, 'preserveIncidentEvidence input');
  const first = await deliveredReceipt<PreservedEvidence>(deps.db, input.evidenceKey, LEDGER_CHANNEL);
  if (first) return first;
  const { cluster, artifacts } = deps;
  const logs = await cluster.kubectl(['logs', cluster.deployment, `--tail=${cluster.orchestrator.logTail}`]);
  const metrics = await Promise.all(
    (['failuresByRepo', 'failureRate'] as const).map((name) =>
      queryPrometheus(deps.prometheus, name, [], input.window),
    ),
  );
  const database = await databaseReference(deps.db);
  const lines = logs.stdout.split('\n').filter(Boolean).length;
  const evidence: PreservedEvidence = {
    preservedAt: new Date().toISOString(),
    logs: {
      ...(await artifacts.put(
        `${input.evidenceKey}-logs.txt`,
        logs.stdout,
        `${cluster.deployment}: last ${lines} log lines`,
      )),
      command: joinArgv(logs.argv),
      lines,
    },
    metrics: {
      ...(await artifacts.put(
        `${input.evidenceKey}-metrics.json`,
        `${JSON.stringify(metrics, null, 2)}\n`,
        `${metrics.length} Prometheus queries over ${input.window}`,
      )),
      queries: metrics.map((result) => result.query),
    },
    database: {
      ...(await artifacts.put(`${input.evidenceKey}-database.json`, database.text, `WAL ${database.walLsn}`)),
      walLsn: database.walLsn,
    },
  };
  await recordReceipt(deps.db, input.evidenceKey, LEDGER_CHANNEL, evidence);
  return evidence;
}

export function createEvidenceActivities(deps: EvidenceDeps) {
  return {
    /** Incident: logs, metrics and a database reference kept before any runbook mutates (seed 004 §1.4). */
    preserveIncidentEvidence: (raw: PreserveEvidenceInput): Promise<PreservedEvidence> =>
      preserveIncidentEvidence(deps, raw),
  };
}
