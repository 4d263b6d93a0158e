import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

/**
 * Named activity-option presets. Every activity is bounded: a mutating activity is idempotent
 * (ledger) but still gets a finite retry budget, after which the run escalates to a human.
 */

/** Error types that mean "retrying cannot help". */
export const NON_RETRYABLE_ERROR_TYPES = [
  'InvalidInput',
  'PolicyInvalid',
  'ConfigurationError',
  'ChannelRejected',
];

/** The policy read's bounds, for both presets below. */
const policyReadBounds = {
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3, initialInterval: '1s', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
} satisfies ActivityOptions & LocalActivityOptions;

/** Reads the policy the worker loaded at start. */
export const policyRead: ActivityOptions = policyReadBounds;

/**
 * The policy read as a local activity (a new backstop programme's opening, which also claims its
 * story): run by the worker inside the workflow task that asked for it, so the task goes on to the
 * programme's first timer instead of ending for an activity task. Same bounds as policyRead.
 */
export const policyReadLocal: LocalActivityOptions = policyReadBounds;

/** A small file the worker writes on its own disk (the drill log): quick, a few retries. */
export const localFileWrite: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '1s', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
};

/** Checking a signed decision (ssh-keygen and one ledger row): quick, a few retries. */
export const signatureCheck: ActivityOptions = {
  startToCloseTimeout: '20s',
  retry: { maximumAttempts: 3, initialInterval: '1s', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
};

/**
 * The same check as a local activity (since 0.20.0, `signature-check-local-v1`): its verdict is the
 * worker's own, recorded in a marker. As an activity its task was on the server, and anyone who can
 * call Temporal's API could complete it by id: with `{"ok":true}` in plain JSON until 0.21.0 (a
 * forged signature opened the gate; unsealed results are refused since), and still with another
 * check's sealed `ok` verdict copied from a history, which sealing does not tell apart.
 */
export const signatureCheckLocal: LocalActivityOptions = signatureCheck;

/** Read-only database work: inspection, planning, verification, reconciliation checks. */
export const databaseRead: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    maximumAttempts: 6,
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '15s',
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

/**
 * Waiting for another run's end through Temporal (an incident's runbook after a hand-over): as
 * long as such a runbook lives, a heartbeat so that a worker that dies is noticed in a minute,
 * read-only, so tried again after a worker's loss for as long as it waits.
 */
export const runbookFollow: ActivityOptions = {
  startToCloseTimeout: '30 days',
  heartbeatTimeout: '1 minute',
  retry: {
    maximumAttempts: 100,
    initialInterval: '10s',
    backoffCoefficient: 2,
    maximumInterval: '10 minutes',
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

/** Reads of another run through Temporal (describe, its status query): bounded, a few retries. */
export const temporalRead: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    maximumAttempts: 4,
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

/**
 * The one transaction that changes the target. Idempotent through the ledger, so a retry after a
 * commit returns the first result; ~4 minutes of retries before the run escalates.
 */
export const databaseWrite: ActivityOptions = {
  startToCloseTimeout: '60s',
  retry: {
    maximumAttempts: 10,
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

/**
 * Notices and tracker calls: one HTTP/SMTP attempt per activity attempt, bounded. 429/5xx retry
 * (Retry-After honoured through nextRetryDelay), other 4xx fail at once (ChannelRejected). A
 * channel that is down never holds up a gate or a deadline: the run records the failed delivery,
 * tries the fallback channel and carries on.
 */
export const notification: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    maximumAttempts: 5,
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

/**
 * Read-only looks at the outside world (kubectl get, HTTP probes): quick and few retries, because
 * the runbook decides on what it saw and a stale answer is worse than a clear "could not tell".
 */
export const probe: ActivityOptions = {
  startToCloseTimeout: '60s',
  retry: {
    maximumAttempts: 3,
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES, 'KubectlMissing', 'KubectlRejected'],
  },
};

/** kubectl reads of the orchestrator (get, logs, exec psql/curl): bounded, a few retries. */
export const kubectlRead: ActivityOptions = {
  startToCloseTimeout: '2m',
  /** kubectl calls heartbeat every 5 s: a dead worker is noticed in 30 s. */
  heartbeatTimeout: '30s',
  retry: {
    maximumAttempts: 4,
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '20s',
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES, 'KubectlMissing', 'KubectlRejected'],
  },
};

/**
 * kubectl mutations (set env, scale, patch): check-then-act, so a retry after a success changes
 * nothing; `rollout status` waits up to its own timeout inside, hence the longer bound.
 */
export const kubectlMutation: ActivityOptions = {
  startToCloseTimeout: '10m',
  /** kubectl calls heartbeat every 5 s: a worker killed mid-mutation is retried after 30 s, not 10 min. */
  heartbeatTimeout: '30s',
  retry: {
    maximumAttempts: 5,
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES, 'KubectlMissing', 'KubectlRejected'],
  },
};

/**
 * Long work that must notice a dead worker quickly (pg_dump, the pilot test flow): heartbeats,
 * so a retry starts within the heartbeat timeout instead of the whole start-to-close.
 */
export const longRunning: ActivityOptions = {
  startToCloseTimeout: '60m',
  heartbeatTimeout: '30s',
  retry: {
    maximumAttempts: 3,
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES, 'KubectlMissing', 'KubectlRejected'],
  },
};

/**
 * One sample of the health endpoints while the rollback measures its downtime: one attempt, a
 * short bound. A sample that cannot be taken is not a health verdict (the step-6 check is).
 */
export const healthSample: ActivityOptions = {
  startToCloseTimeout: '20s',
  retry: { maximumAttempts: 1 },
};

/** Prometheus instant queries. */
export const metricsQuery: ActivityOptions = {
  startToCloseTimeout: '1m',
  retry: {
    maximumAttempts: 4,
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '20s',
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

/**
 * A local command with consequences (the backstop's revert): one attempt. A run cut short by a lost
 * worker is reported for a human to check, never started a second time.
 */
export const commandOnce: ActivityOptions = {
  startToCloseTimeout: '15m',
  retry: { maximumAttempts: 1 },
};

/**
 * The helm tag pin (`helm upgrade --wait`, up to its own timeout inside): check-then-act and
 * ledgered, so a retry after a completed pin changes nothing; two attempts, because the merge
 * revert is the fallback and the pin has 5 minutes in all (seed 001 §5).
 */
export const helmUpgrade: ActivityOptions = {
  startToCloseTimeout: '6m',
  heartbeatTimeout: '30s',
  retry: {
    maximumAttempts: 2,
    initialInterval: '5s',
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES, 'HelmMissing', 'HelmRejected'],
  },
};
