import type { Pool } from 'pg';
import { FTF_TARGET_DDL } from '../db/target-schema';

/**
 * The demo target: a 455-key `base_env` of HPO settings `CVN_HPO_<MODEL>_<TF>_<PARAM>` and a
 * realistic history in which the last Console edit is the seed's typo scenario
 * (LGB 5M learning rate 0.0 instead of 0.07). Values are strings, as env values are.
 */

export const MODELS = ['XGB', 'LGB', 'CB'] as const;
export const TIMEFRAMES = ['1M', '5M', '15M', '30M', '1H'] as const;

type Model = (typeof MODELS)[number];
type Timeframe = (typeof TIMEFRAMES)[number];

/** Per-timeframe scale: longer bars, fewer samples, smaller models. */
const TF_INDEX: Record<Timeframe, number> = { '1M': 0, '5M': 1, '15M': 2, '30M': 3, '1H': 4 };

type ParamValue = (tf: number) => string;
const num =
  (values: readonly number[]): ParamValue =>
  (tf) =>
    String(values[tf]);
const text =
  (value: string): ParamValue =>
  () =>
    value;

/** XGB has 31 settings, LGB and CB 30 each: 5 × (31 + 30 + 30) = 455 keys. */
const PARAMS: Record<Model, Record<string, ParamValue>> = {
  XGB: {
    N_ESTIMATORS: num([800, 600, 450, 350, 250]),
    N_ESTIMATORS_MIN: num([200, 150, 120, 100, 80]),
    N_ESTIMATORS_MAX: num([2000, 1500, 1200, 900, 600]),
    LEARNING_RATE: num([0.05, 0.07, 0.08, 0.1, 0.12]),
    LEARNING_RATE_MIN: num([0.005, 0.01, 0.01, 0.02, 0.02]),
    LEARNING_RATE_MAX: num([0.2, 0.25, 0.3, 0.3, 0.35]),
    MAX_DEPTH: num([8, 7, 6, 6, 5]),
    MAX_DEPTH_MIN: num([3, 3, 3, 2, 2]),
    MAX_DEPTH_MAX: num([12, 10, 10, 8, 8]),
    MIN_CHILD_WEIGHT_MIN: num([1, 1, 1, 1, 1]),
    MIN_CHILD_WEIGHT_MAX: num([20, 16, 12, 10, 8]),
    SUBSAMPLE_MIN: num([0.5, 0.5, 0.6, 0.6, 0.6]),
    SUBSAMPLE_MAX: num([1, 1, 1, 1, 1]),
    COLSAMPLE_BYTREE_MIN: num([0.4, 0.4, 0.5, 0.5, 0.5]),
    COLSAMPLE_BYTREE_MAX: num([1, 1, 1, 1, 1]),
    GAMMA_MIN: num([0, 0, 0, 0, 0]),
    GAMMA_MAX: num([5, 5, 4, 3, 2]),
    REG_ALPHA_MIN: num([0, 0, 0, 0, 0]),
    REG_ALPHA_MAX: num([10, 8, 6, 5, 4]),
    REG_LAMBDA_MIN: num([0.5, 0.5, 0.5, 1, 1]),
    REG_LAMBDA_MAX: num([20, 15, 12, 10, 10]),
    MAX_BIN: num([256, 256, 256, 128, 128]),
    TREE_METHOD: text('hist'),
    GROW_POLICY: text('depthwise'),
    EVAL_METRIC: text('logloss'),
    OBJECTIVE: text('binary:logistic'),
    EARLY_STOPPING_ROUNDS: num([100, 80, 60, 50, 40]),
    N_TRIALS: num([200, 150, 120, 100, 80]),
    TIMEOUT_SECONDS: num([7200, 5400, 3600, 2700, 1800]),
    RANDOM_STATE: num([42, 42, 42, 42, 42]),
    SCALE_POS_WEIGHT: num([1, 1, 1.2, 1.2, 1.5]),
  },
  LGB: {
    N_ESTIMATORS: num([1000, 800, 600, 450, 300]),
    N_ESTIMATORS_MIN: num([200, 150, 120, 100, 80]),
    N_ESTIMATORS_MAX: num([3000, 2500, 2000, 1500, 1000]),
    LEARNING_RATE: num([0.05, 0.07, 0.08, 0.1, 0.1]),
    LEARNING_RATE_MIN: num([0.005, 0.01, 0.01, 0.02, 0.02]),
    LEARNING_RATE_MAX: num([0.2, 0.25, 0.25, 0.3, 0.3]),
    NUM_LEAVES_MIN: num([16, 16, 15, 12, 8]),
    NUM_LEAVES_MAX: num([256, 200, 160, 128, 96]),
    MAX_DEPTH_MIN: num([-1, -1, -1, -1, -1]),
    MAX_DEPTH_MAX: num([16, 14, 12, 10, 8]),
    MIN_CHILD_SAMPLES_MIN: num([20, 20, 15, 10, 10]),
    MIN_CHILD_SAMPLES_MAX: num([200, 160, 120, 100, 80]),
    SUBSAMPLE_MIN: num([0.5, 0.5, 0.6, 0.6, 0.6]),
    SUBSAMPLE_MAX: num([1, 1, 1, 1, 1]),
    COLSAMPLE_BYTREE_MIN: num([0.4, 0.4, 0.5, 0.5, 0.5]),
    COLSAMPLE_BYTREE_MAX: num([1, 1, 1, 1, 1]),
    REG_ALPHA_MIN: num([0, 0, 0, 0, 0]),
    REG_ALPHA_MAX: num([10, 8, 6, 5, 4]),
    REG_LAMBDA_MIN: num([0, 0, 0, 0.5, 0.5]),
    REG_LAMBDA_MAX: num([20, 15, 12, 10, 10]),
    MIN_SPLIT_GAIN: num([0, 0, 0.01, 0.01, 0.02]),
    MAX_BIN: num([255, 255, 255, 127, 127]),
    BOOSTING_TYPE: text('gbdt'),
    OBJECTIVE: text('binary'),
    METRIC: text('binary_logloss'),
    EARLY_STOPPING_ROUNDS: num([100, 80, 60, 50, 40]),
    N_TRIALS: num([200, 150, 120, 100, 80]),
    TIMEOUT_SECONDS: num([7200, 5400, 3600, 2700, 1800]),
    RANDOM_STATE: num([42, 42, 42, 42, 42]),
    VERBOSITY: num([-1, -1, -1, -1, -1]),
  },
  CB: {
    ITERATIONS: num([1500, 1200, 1000, 800, 600]),
    ITERATIONS_MIN: num([300, 250, 200, 150, 100]),
    ITERATIONS_MAX: num([4000, 3000, 2500, 2000, 1500]),
    LEARNING_RATE: num([0.03, 0.05, 0.06, 0.08, 0.1]),
    LEARNING_RATE_MIN: num([0.005, 0.01, 0.01, 0.02, 0.02]),
    LEARNING_RATE_MAX: num([0.2, 0.2, 0.25, 0.3, 0.3]),
    DEPTH: num([8, 7, 6, 6, 6]),
    DEPTH_MIN: num([4, 4, 4, 4, 3]),
    DEPTH_MAX: num([10, 10, 10, 8, 8]),
    L_LEAF_REG_MIN: num([1, 1, 1, 1, 1]),
    L_LEAF_REG_MAX: num([10, 10, 8, 8, 6]),
    BAGGING_TEMPERATURE_MIN: num([0, 0, 0, 0, 0]),
    BAGGING_TEMPERATURE_MAX: num([1, 1, 1, 1, 1]),
    RANDOM_STRENGTH_MIN: num([0.5, 0.5, 0.5, 1, 1]),
    RANDOM_STRENGTH_MAX: num([10, 8, 8, 5, 5]),
    MIN_DATA_IN_LEAF_MIN: num([1, 1, 1, 1, 1]),
    MIN_DATA_IN_LEAF_MAX: num([100, 80, 60, 50, 40]),
    BORDER_COUNT: num([254, 254, 254, 128, 128]),
    RSM: num([1, 1, 0.9, 0.9, 0.8]),
    BOOTSTRAP_TYPE: text('Bayesian'),
    GROW_POLICY: text('SymmetricTree'),
    LOSS_FUNCTION: text('Logloss'),
    EVAL_METRIC: text('AUC'),
    OD_TYPE: text('Iter'),
    OD_WAIT: num([100, 80, 60, 50, 40]),
    LEAF_ESTIMATION_ITERATIONS: num([10, 10, 8, 8, 5]),
    N_TRIALS: num([150, 120, 100, 80, 60]),
    TIMEOUT_SECONDS: num([7200, 5400, 3600, 2700, 1800]),
    RANDOM_SEED: num([42, 42, 42, 42, 42]),
    TASK_TYPE: text('CPU'),
  },
};

export function hpoKey(model: string, timeframe: string, param: string): string {
  return `CVN_HPO_${model}_${timeframe}_${param}`;
}

/** The canonical (legacy bundle) payload: what `seed_hyperparams_console.py --apply` writes. */
export function canonicalBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const model of MODELS) {
    for (const timeframe of TIMEFRAMES) {
      for (const [param, value] of Object.entries(PARAMS[model])) {
        env[hpoKey(model, timeframe, param)] = value(TF_INDEX[timeframe]);
      }
    }
  }
  return env;
}

export interface DemoHistoryEntry {
  version: string;
  changedBy: string;
  changeReason: string;
  changedAt: string;
  tags: string[];
  edits: Record<string, string>;
}

export const SEEDING_CHANGE_REASON = 'ADR-90 seeding (CVN-N001-EE-S17 PR-1)';

/** Six versions; each applies its edits on top of the previous snapshot. */
export const DEMO_HISTORY: DemoHistoryEntry[] = [
  {
    version: '2026.05.12-1',
    changedBy: 'seed_hyperparams_console.py',
    changeReason: SEEDING_CHANGE_REASON,
    changedAt: '2026-05-12T09:14:03Z',
    tags: ['seed', 'adr-90'],
    edits: {},
  },
  {
    version: '2026.06.03-1',
    changedBy: 'console:dococeven',
    changeReason: 'widen XGB 5M n_estimators range: sweep 14 clipped at the max',
    changedAt: '2026-06-03T14:52:40Z',
    tags: ['console'],
    edits: {
      [hpoKey('XGB', '5M', 'N_ESTIMATORS_MAX')]: '2500',
      [hpoKey('XGB', '5M', 'N_ESTIMATORS')]: '700',
      [hpoKey('XGB', '5M', 'EARLY_STOPPING_ROUNDS')]: '120',
    },
  },
  {
    version: '2026.07.21-1',
    changedBy: 'console:mkeller',
    changeReason: 'LGB 15M overfit: lower learning-rate ceiling, more regularisation',
    changedAt: '2026-07-21T08:03:11Z',
    tags: ['console'],
    edits: {
      [hpoKey('LGB', '15M', 'LEARNING_RATE_MAX')]: '0.15',
      [hpoKey('LGB', '15M', 'REG_LAMBDA_MIN')]: '1',
      [hpoKey('LGB', '15M', 'REG_LAMBDA_MAX')]: '25',
      [hpoKey('LGB', '15M', 'NUM_LEAVES_MAX')]: '96',
      [hpoKey('LGB', '15M', 'MIN_CHILD_SAMPLES_MIN')]: '30',
    },
  },
  {
    version: '2026.09.08-1',
    changedBy: 'console:dococeven',
    changeReason: 'CB 1H: deeper trees after feature set v7',
    changedAt: '2026-09-08T16:40:27Z',
    tags: ['console'],
    edits: {
      [hpoKey('CB', '1H', 'DEPTH_MIN')]: '5',
      [hpoKey('CB', '1H', 'DEPTH_MAX')]: '10',
      [hpoKey('CB', '1H', 'DEPTH')]: '8',
      [hpoKey('CB', '1H', 'L_LEAF_REG_MAX')]: '12',
    },
  },
  {
    version: '2026.10.30-1',
    changedBy: 'console:aroux',
    changeReason: "tighten XGB subsample floor across TFs (drift study 'Q4')",
    changedAt: '2026-10-30T10:22:51Z',
    tags: ['console'],
    edits: Object.fromEntries(
      TIMEFRAMES.flatMap((tf) => [
        [hpoKey('XGB', tf, 'SUBSAMPLE_MIN'), '0.7'],
        [hpoKey('XGB', tf, 'COLSAMPLE_BYTREE_MIN'), '0.6'],
      ]),
    ),
  },
  {
    version: '2026.11.23-1',
    changedBy: 'console:jdoe',
    changeReason: 'LGB 5M learning rate',
    changedAt: '2026-11-23T23:48:09Z',
    tags: ['console'],
    // The seed's operator typo: 0.0 instead of 0.07.
    edits: { [hpoKey('LGB', '5M', 'LEARNING_RATE')]: '0.0' },
  },
];

/**
 * Creates the target tables and, only when `ftf_config_history` is empty, loads the demo history
 * and the live row (= the newest snapshot). Returns what it did.
 */
export async function ensureDemoTarget(
  db: Pool,
): Promise<{ seeded: boolean; historyRows: number; liveVersion: string | null }> {
  await db.query(FTF_TARGET_DDL);
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtext('durable-runbooks-demo-seed'))");
    const existing = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM ftf_config_history');
    let seeded = false;
    if ((existing.rows[0]?.n ?? 0) === 0) {
      let snapshot = canonicalBaseEnv();
      for (const entry of DEMO_HISTORY) {
        snapshot = { ...snapshot, ...entry.edits };
        await client.query(
          `INSERT INTO ftf_config_history (base_env, version, locked_by, changed_by, change_reason, parent_id, diff, tags, changed_at)
           VALUES ($1::jsonb, $2, NULL, $3, $4, NULL, $5::jsonb, $6::jsonb, $7::timestamptz)`,
          [
            JSON.stringify(snapshot),
            entry.version,
            entry.changedBy,
            entry.changeReason,
            JSON.stringify(entry.edits),
            JSON.stringify(entry.tags),
            entry.changedAt,
          ],
        );
      }
      const newest = DEMO_HISTORY[DEMO_HISTORY.length - 1]!;
      await client.query(
        `INSERT INTO ftf_config (id, base_env, version, locked_by, updated_at, updated_by)
         VALUES (1, $1::jsonb, $2, NULL, $3::timestamptz, $4)
         ON CONFLICT (id) DO NOTHING`,
        [JSON.stringify(snapshot), newest.version, newest.changedAt, newest.changedBy],
      );
      seeded = true;
    }
    await client.query('COMMIT');
    const counts = await db.query<{ n: number; version: string | null }>(
      'SELECT (SELECT count(*)::int FROM ftf_config_history) AS n, (SELECT version FROM ftf_config WHERE id = 1) AS version',
    );
    return { seeded, historyRows: counts.rows[0]?.n ?? 0, liveVersion: counts.rows[0]?.version ?? null };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
