import { z } from 'zod';
import { parseDuration } from './duration';

/**
 * The policy file: who may approve, how long the safety pauses and deadlines are, what the
 * target is called. It lives with the worker (validated at start), never in workflow input, so
 * an incident commander cannot shorten a safety pause from the UI.
 */

/** The seed's floors and ceilings (seed 000, gating ritual). Only a test policy may go below them. */
export const SEED_LIMITS = {
  pauseFloorMs: 2 * 60_000,
  reconciliationDeadlineMaxMs: 60 * 60_000,
  postMortemDeadlineMaxMs: 24 * 3_600_000,
} as const;

const handle = z
  .string()
  .regex(
    /^@?[A-Za-z0-9][A-Za-z0-9._-]*$/,
    'must be a handle like "@dococeven" (letters, digits, ".", "_", "-")',
  );

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a positive duration like "90s", "2m", "24h" (got "${text}")`,
    });
    return z.NEVER;
  }
  return ms;
});

const gatePolicy = {
  /** Handles whose approval counts. */
  approvers: z.array(handle).min(1, 'needs at least one approver'),
  /** True when one person both runs and approves the runbook (seed 000: "sole approval authority"). */
  soleOperator: z.boolean(),
  /** Pause-and-think: minimum time between the approval and the first side effect. */
  pause: duration,
  /** No decision within this time after the approval request: the run ends `approval_expired`. */
  approvalTimeout: duration,
};

const obligations = {
  /** The reconciling Console write must appear within this time (after the restore / Console recovery). */
  reconciliationDeadline: duration,
  /** How often the workflow looks for the reconciling write inside the deadline. */
  reconciliationPollInterval: duration,
  /** After a missed deadline, how often it keeps looking so a late write is still recorded. */
  lateReconciliationPollInterval: duration,
  /** The post-mortem must be marked filed within this time after the SQL committed. */
  postMortemDeadline: duration,
};

/** Procedure A: restore from history. */
export const breakGlassRestorePolicySchema = z.object({ ...gatePolicy, ...obligations }).strict();

/** Procedure B: urgent single-key edit while the Console is down. */
export const breakGlassConsoleEditPolicySchema = z
  .object({
    ...gatePolicy,
    ...obligations,
    /** How often to probe the Console while waiting for it to come back (before reconciliation). */
    consoleProbeInterval: duration,
    /** The Console must be back within this time after the edit; past it, escalate. */
    consoleRecoveryTimeout: duration,
  })
  .strict();

/** Procedure D: re-bootstrap a missing live row. */
export const breakGlassRebootstrapPolicySchema = z.object({ ...gatePolicy, ...obligations }).strict();

/** The 30-day drill: Procedure A on the staging copy, sentinel row, N versions back. */
export const breakGlassDrillPolicySchema = z
  .object({
    ...gatePolicy,
    sentinelRowId: z.number().int().positive().prefault(999),
    versionsBack: z.number().int().min(1).max(20).prefault(3),
    /** SLO: detected → restore verified. */
    slo: duration.prefault('10m'),
    /** Over this, the runbook "needs tightening" (seed: 15 min). */
    tightenAbove: duration.prefault('15m'),
    /** Folder for YYYY-MM-DD-drill.md, relative to the policy file. */
    logDirectory: z.string().min(1),
  })
  .strict();

/** Where Procedure B looks to decide whether break-glass is justified. */
export const consoleSchema = z
  .object({
    /** The Console's URL, probed like `curl -sf`: a status below 400 means up. */
    url: z.url({ protocol: /^https?$/ }),
    kubeContext: z.string().regex(/^[A-Za-z0-9._@:/-]{1,253}$/, 'must be a kubeconfig context name'),
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a Kubernetes namespace name'),
    podSelector: z
      .string()
      .regex(
        /^[A-Za-z0-9._/-]+(==?|!=)[A-Za-z0-9._-]*(,[A-Za-z0-9._/-]+(==?|!=)[A-Za-z0-9._-]*)*$/,
        'must be a label selector like "app=console"',
      ),
    probeTimeout: duration.prefault('5s'),
  })
  .strict();

/** https, or plain http to a loopback address (local sinks and tunnels only). */
const endpointUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    return url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
  } catch {
    return false;
  }
}, 'must be an https:// URL (plain http only to 127.0.0.1/localhost)');

// ---------------------------------------------------------------------------------------------
// RB-LAUNCH-002 (seed 002): the orchestrator deployment, its metrics, rollback and re-enablement

/** RFC 1123 label: what Kubernetes accepts as a namespace, deployment or (here) repo name. */
export const kubernetesName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    'must be a Kubernetes name (lower-case letters, digits, "-", at most 63)',
  );

const kubeContext = z.string().regex(/^[A-Za-z0-9._@:/-]{1,253}$/, 'must be a kubeconfig context name');

/** The deployment the rollback acts on (seed 002: flowengine in production). */
export const orchestratorSchema = z
  .object({
    kubeContext,
    namespace: kubernetesName,
    deployment: kubernetesName,
    container: kubernetesName,
    /** The env var holding the comma-separated repo allowlist. */
    allowlistEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
    configMap: kubernetesName,
    /** Key of the configmap listing the expanded repos (space-separated). */
    expandedReposKey: z.string().regex(/^[-._a-zA-Z0-9]+$/),
    pilotRepo: kubernetesName,
    pilotReplicas: z.number().int().min(1),
    podSelector: z.string().regex(/^[A-Za-z0-9._/-]+=[A-Za-z0-9._-]+(,[A-Za-z0-9._/-]+=[A-Za-z0-9._-]+)*$/),
    monitoringNamespace: kubernetesName,
    /** PrometheusRule of a repo: `<repo><suffix>` (seed: "-alerts"). */
    alertRuleSuffix: z
      .string()
      .regex(/^[-a-z0-9]*$/)
      .prefault('-alerts'),
    logTail: z.number().int().min(10).max(10_000).prefault(100),
    kubectlTimeout: duration.prefault('30s'),
  })
  .strict();

/** Prometheus HTTP API; each query may use $REPOS (a|b|c) and $WINDOW (e.g. 30m). */
export const prometheusSchema = z
  .object({
    url: endpointUrl,
    timeout: duration.prefault('10s'),
    queries: z
      .object({
        failuresByRepo: z.string().min(1),
        failureRate: z.string().min(1),
        successRate: z.string().min(1),
        p95LatencySeconds: z.string().min(1),
        errorRate: z.string().min(1),
        recurrence: z.string().min(1),
      })
      .strict(),
  })
  .strict();

export const rollbackToPilotPolicySchema = z
  .object({
    /** Who may confirm a P2 rollback after the triage hold, besides the incident commander. */
    confirmers: z.array(handle).default([]),
    triageHold: duration.prefault('30m'),
    confirmationTimeout: duration.prefault('30m'),
    rolloutTimeout: duration.prefault('120s'),
    scaleTimeout: duration.prefault('180s'),
    /** A pod with this many restarts (or CrashLoopBackOff) means crash loop: restart with the pilot config. */
    crashLoopRestarts: z.number().int().min(1).prefault(3),
    postgres: z
      .object({
        deployment: kubernetesName,
        user: z.string().regex(/^[a-z_][a-z0-9_]*$/),
        database: z.string().regex(/^[a-z_][a-z0-9_]*$/),
        /** Seed 002: the G5 schema the pilot runs on. */
        pilotSchemaVersion: z.string().regex(/^\d{8}_\d{3}$/),
        rollbackSqlFile: z
          .string()
          .regex(/^\/[A-Za-z0-9._/-]+$/, 'must be an absolute path inside the postgres pod'),
        /** Where pg_dump backups are written (worker side, relative to the policy file). */
        backupDirectory: z.string().min(1),
      })
      .strict(),
    /** The configured test flow on the pilot repo and its success criteria (seed step 5). */
    pilotVerification: z
      .object({
        command: z.array(z.string().min(1)).min(1),
        timeout: duration.prefault('5m'),
        maxDurationSeconds: z.number().positive().prefault(120),
        /** A regular expression the output must match (e.g. "5/5 passed"). */
        successPattern: z.string().min(1).optional(),
      })
      .strict(),
    /** Health endpoints checked from inside the deployment (seed step 6): each must answer status "healthy". */
    healthChecks: z
      .array(z.object({ name: z.string().min(1), url: z.url({ protocol: /^https?$/ }) }).strict())
      .default([]),
    decision: z
      .object({
        crashLoopMinutes: z.number().positive().prefault(15),
        dailySpendLimitUsd: z.number().positive().prefault(200),
        massFailureRepos: z.number().int().positive().prefault(10),
        confirmationMinRepos: z.number().int().positive().prefault(3),
        intermittentFailureRate: z.number().min(0).max(1).prefault(0.05),
        killRateFloor: z.number().min(0).max(1).prefault(0.6),
        killRateRepoShare: z.number().min(0).max(1).prefault(0.5),
        p95SloSeconds: z.number().positive().prefault(150),
        p95SloHours: z.number().positive().prefault(2),
        cascadingRepos: z.number().int().positive().prefault(3),
      })
      .strict()
      .prefault({}),
    rcaDeadline: duration.prefault('24h'),
    targets: z
      .object({ execution: duration.prefault('10m'), total: duration.prefault('30m') })
      .strict()
      .prefault({}),
    /** Who is paged on each failure branch. */
    escalation: z.object({ engineeringTl: handle, dba: handle }).strict(),
    statusPage: z
      .object({ channel: z.string().min(1), service: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

export const phasedReenablementPolicySchema = z
  .object({
    /** Who approves moving past the canary to phase 2. */
    approvers: gatePolicy.approvers,
    soleOperator: gatePolicy.soleOperator,
    approvalTimeout: duration.prefault('24h'),
    canaryHold: duration.prefault('4h'),
    phase2Hold: duration.prefault('24h'),
    /** Each day's batch in phase 3 (1–2 repos) holds this long. */
    batchHold: duration.prefault('24h'),
    reposPerDay: z.number().int().min(1).max(2).prefault(2),
    analysisInterval: duration.prefault('30m'),
    rolloutTimeout: duration.prefault('120s'),
    /** Overrides in the input must stay within these bounds. */
    holdBounds: z
      .object({ min: duration.prefault('1h'), max: duration.prefault('72h') })
      .strict()
      .prefault({}),
    successRateMin: z.number().min(0).max(1).prefault(0.99),
    p95MaxSeconds: z.number().positive().prefault(120),
    /** Seed 003: hold 10–15 min on the exit targets before declaring recovery. */
    watchForGreen: duration.prefault('15m'),
    watchInterval: duration.prefault('1m'),
    exitTargets: z
      .object({
        errorRateMax: z.number().min(0).max(1).prefault(0.005),
        p95BaselineSeconds: z.number().positive(),
        p95MaxIncrease: z.number().min(0).max(1).prefault(0.15),
      })
      .strict(),
  })
  .strict()
  .refine((p) => p.watchForGreen >= 10 * 60_000 && p.watchForGreen <= 15 * 60_000, {
    message: 'must be between 10m and 15m (seed 003: "Hold ten to fifteen minutes")',
    path: ['watchForGreen'],
  });

// ---------------------------------------------------------------------------------------------
// Notification channels and trackers. Secrets are never in the policy: it names the environment
// variable that holds each one, and the worker reads it at start.

const envName = z
  .string()
  .regex(
    /^[A-Z_][A-Z0-9_]*$/,
    'must be the NAME of an environment variable holding the secret, not the secret',
  );

const timeout = duration.prefault('10s');

const logChannel = z.object({ type: z.literal('log') }).strict();
const slackChannel = z.object({ type: z.literal('slack'), webhookUrlEnv: envName, timeout }).strict();
const pagerDutyChannel = z
  .object({
    type: z.literal('pagerduty'),
    routingKeyEnv: envName,
    eventsUrl: endpointUrl.default('https://events.pagerduty.com/v2/enqueue'),
    source: z.string().min(1).default('durable-runbooks'),
    timeout,
  })
  .strict();
const emailChannel = z
  .object({
    type: z.literal('email'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65_535),
    /** starttls: upgrade a plain connection (587); tls: implicit TLS (465); none: loopback only. */
    security: z.enum(['starttls', 'tls', 'none']),
    userEnv: envName.optional(),
    passwordEnv: envName.optional(),
    from: z.email(),
    /** Recipients for notices not addressed to the approvers. */
    to: z.array(z.email()).min(1),
    /** Extra CA certificate (PEM file) to trust, e.g. an internal relay's. */
    caFile: z.string().min(1).optional(),
    timeout,
  })
  .strict()
  .refine(
    (channel) => channel.security !== 'none' || ['127.0.0.1', 'localhost', '::1'].includes(channel.host),
    {
      message: 'security "none" is only allowed to a loopback relay',
      path: ['security'],
    },
  )
  .refine((channel) => (channel.userEnv === undefined) === (channel.passwordEnv === undefined), {
    message: 'userEnv and passwordEnv go together',
    path: ['passwordEnv'],
  });
const webhookChannel = z.object({ type: z.literal('webhook'), urlEnv: envName, timeout }).strict();
const statusPageChannel = z
  .object({
    type: z.literal('statuspage'),
    baseUrl: endpointUrl.default('https://api.statuspage.io/v1'),
    pageId: z.string().regex(/^[A-Za-z0-9]+$/, 'must be the Statuspage page id'),
    apiKeyEnv: envName,
    timeout,
  })
  .strict();
/** A GitHub repository, "owner/repo". */
export const repositorySchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be "owner/repo"');
const gitHubChannel = z
  .object({
    type: z.literal('github'),
    apiUrl: endpointUrl.default('https://api.github.com'),
    repository: repositorySchema,
    tokenEnv: envName,
    timeout,
  })
  .strict();
const openProjectChannel = z
  .object({ type: z.literal('openproject'), baseUrl: endpointUrl, apiKeyEnv: envName, timeout })
  .strict();

export const channelSchema = z.union([
  logChannel,
  slackChannel,
  pagerDutyChannel,
  emailChannel,
  webhookChannel,
  statusPageChannel,
  gitHubChannel,
  openProjectChannel,
]);

/** Channels a notice can be routed to (trackers and the status page are driven by their own steps). */
export const NOTICE_CHANNEL_TYPES = ['log', 'slack', 'pagerduty', 'email', 'webhook'] as const;

const channelName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'channel names are lower-case words joined by "-"');

/** Seed 001 §6.bis: the T+30/60/90/120 backstop program of a story. */
export const backstopPolicySchema = z
  .object({
    /** The OpenProject and GitHub channels (notifications.channels) the checks read and write. */
    openProjectChannel: channelName.default('openproject'),
    gitHubChannel: channelName.default('github'),
    /** Besides the story's DRI, who may record a decision. */
    deciders: z.array(handle).default([]),
    /** How long the T+90 decision may stay open before the DRI is escalated to again (and again). */
    decisionWindow: duration.prefault('48h'),
    /** The Console restore probe: one GET, no retry through another route (seed 001). */
    probeTimeout: duration.prefault('10s'),
    /** How long a checkpoint whose evidence cannot be read waits before reading again. */
    evidenceRetryInterval: duration.prefault('1h'),
    /** OpenProject status names (seed 001). */
    newStatus: z.string().min(1).default('New'),
    pastInProgress: z
      .array(z.string().min(1))
      .min(1)
      .default(['Developed', 'In testing', 'Tested', 'Closed']),
    shippedStatus: z.string().min(1).default('Closed'),
    /** Run on a revert (argument array, no shell; {story} and {sha} are substituted). Optional. */
    revertCommand: z
      .object({ command: z.array(z.string().min(1)).min(1), timeout: duration.prefault('10m') })
      .strict()
      .optional(),
  })
  .strict();
export type BackstopPolicy = z.output<typeof backstopPolicySchema>;

export const notificationsSchema = z
  .object({
    channels: z.record(channelName, channelSchema),
    /** Notice kind → channels; "default" applies to every kind not listed. */
    routes: z.record(z.string().min(1), z.array(channelName).min(1)).refine((routes) => 'default' in routes, {
      message: 'needs a "default" route',
    }),
    /** Where a notice goes when every channel of its route failed. */
    fallback: channelName.optional(),
    /** Handle → email address, for notices addressed to people (approval requests go to the roster). */
    directory: z.record(z.string().regex(/^@?[A-Za-z0-9][A-Za-z0-9._-]*$/), z.email()).default({}),
  })
  .strict()
  .superRefine((notifications, ctx) => {
    const known = notifications.channels;
    for (const [kind, names] of Object.entries(notifications.routes)) {
      names.forEach((name, index) => {
        const channel = known[name];
        if (!channel) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', kind, index],
            message: `channel "${name}" is not defined in channels`,
          });
        } else if (!(NOTICE_CHANNEL_TYPES as readonly string[]).includes(channel.type)) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', kind, index],
            message: `channel "${name}" is a ${channel.type} channel; notices go to ${NOTICE_CHANNEL_TYPES.join(', ')} channels`,
          });
        }
      });
    }
    if (notifications.fallback) {
      const channel = known[notifications.fallback];
      if (!channel || !(NOTICE_CHANNEL_TYPES as readonly string[]).includes(channel.type)) {
        ctx.addIssue({
          code: 'custom',
          path: ['fallback'],
          message: `"${notifications.fallback}" is not a defined notice channel`,
        });
      }
    }
  });

const DEFAULT_NOTIFICATIONS = { channels: { log: { type: 'log' as const } }, routes: { default: ['log'] } };

export const policySchema = z
  .object({
    policyVersion: z.literal(1),
    /**
     * Allows durations below the seed's floors. For the dev-server end-to-end tests only;
     * the worker logs a warning when it is on.
     */
    testOnlyShortDurations: z.boolean().default(false),
    /** Story the break-glass approval line names (seed 000: CVN-N001-EE-S17). */
    story: z.string().min(1),
    /** `change_reason` of the canonical seeding writes (seed 000, Procedure C). */
    seedingChangeReason: z.string().min(1),
    /** JSON object of the canonical (legacy bundle) `base_env`, relative to the policy file. */
    canonicalPayloadPath: z.string().min(1),
    /** Where the post-mortem is filed (seed 000: a comment on OP wp#153). */
    postMortemTarget: z.string().min(1),
    /** Post the post-mortem draft as a comment there: a work package (OpenProject) or an issue (GitHub). */
    postMortemComment: z
      .union([
        z.object({ channel: channelName, workPackageId: z.number().int().positive() }).strict(),
        z.object({ channel: channelName, issueNumber: z.number().int().positive() }).strict(),
      ])
      .optional(),
    notifications: notificationsSchema.prefault(DEFAULT_NOTIFICATIONS),
    console: consoleSchema,
    orchestrator: orchestratorSchema,
    prometheus: prometheusSchema,
    runbooks: z
      .object({
        breakGlassRestore: breakGlassRestorePolicySchema,
        breakGlassConsoleEdit: breakGlassConsoleEditPolicySchema,
        breakGlassRebootstrap: breakGlassRebootstrapPolicySchema,
        breakGlassDrill: breakGlassDrillPolicySchema,
        rollbackToPilot: rollbackToPilotPolicySchema,
        phasedReenablement: phasedReenablementPolicySchema,
        backstop: backstopPolicySchema.prefault({}),
      })
      .strict(),
  })
  .strict()
  .superRefine((policy, ctx) => {
    if (policy.postMortemComment) {
      const channel = policy.notifications.channels[policy.postMortemComment.channel];
      const wanted = 'workPackageId' in policy.postMortemComment ? 'openproject' : 'github';
      if (channel?.type !== wanted) {
        ctx.addIssue({
          code: 'custom',
          path: ['postMortemComment', 'channel'],
          message: `must name a ${wanted} channel defined in notifications.channels`,
        });
      }
    }
    if (policy.testOnlyShortDurations) return;
    // The seed's gating ritual holds for every break-glass procedure, drills included.
    const breakGlass = {
      breakGlassRestore: policy.runbooks.breakGlassRestore,
      breakGlassConsoleEdit: policy.runbooks.breakGlassConsoleEdit,
      breakGlassRebootstrap: policy.runbooks.breakGlassRebootstrap,
      breakGlassDrill: policy.runbooks.breakGlassDrill,
    };
    for (const [name, runbook] of Object.entries(breakGlass)) {
      const path = ['runbooks', name];
      if (runbook.pause < SEED_LIMITS.pauseFloorMs) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'pause'],
          message: 'must be at least 2m (seed 000 pause-and-think gate)',
        });
      }
      if (
        'reconciliationDeadline' in runbook &&
        runbook.reconciliationDeadline > SEED_LIMITS.reconciliationDeadlineMaxMs
      ) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'reconciliationDeadline'],
          message: 'must be at most 60m (seed 000: reconciling Console write within 1h)',
        });
      }
      if (
        'postMortemDeadline' in runbook &&
        runbook.postMortemDeadline > SEED_LIMITS.postMortemDeadlineMaxMs
      ) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'postMortemDeadline'],
          message: 'must be at most 24h (seed 000: post-mortem within 24 hours)',
        });
      }
    }
  });

/** The policy file as written (durations as text). */
export type PolicyFile = z.input<typeof policySchema>;
/** The validated policy (durations in milliseconds). */
export type Policy = z.output<typeof policySchema>;
export type BreakGlassRestorePolicy = z.output<typeof breakGlassRestorePolicySchema>;
export type BreakGlassConsoleEditPolicy = z.output<typeof breakGlassConsoleEditPolicySchema>;
export type BreakGlassRebootstrapPolicy = z.output<typeof breakGlassRebootstrapPolicySchema>;
export type BreakGlassDrillPolicy = z.output<typeof breakGlassDrillPolicySchema>;
/** Gate and obligation durations every break-glass procedure with a SQL write shares. */
export type BreakGlassObligationsPolicy = BreakGlassRestorePolicy;
export type ConsolePolicy = z.output<typeof consoleSchema>;
export type OrchestratorPolicy = z.output<typeof orchestratorSchema>;
export type PrometheusPolicy = z.output<typeof prometheusSchema>;
export type RollbackToPilotPolicy = z.output<typeof rollbackToPilotPolicySchema>;
export type PhasedReenablementPolicy = z.output<typeof phasedReenablementPolicySchema>;
export type RunbookName = keyof Policy['runbooks'];
export type BreakGlassRunbookName =
  'breakGlassRestore' | 'breakGlassConsoleEdit' | 'breakGlassRebootstrap' | 'breakGlassDrill';
export type ChannelConfig = z.output<typeof channelSchema>;
export type ChannelType = ChannelConfig['type'];
export type NoticeChannelType = (typeof NOTICE_CHANNEL_TYPES)[number];
export type NotificationsPolicy = z.output<typeof notificationsSchema>;
