import { z } from 'zod';
import { policyHandle } from '../names';
import { INCIDENT_CONDITIONS } from '../incident';
import { gatePolicy } from './break-glass';
import { duration } from './fields';

/**
 * Seed 004 (incident & rollback runbook): the severity ladder's response rules, the first ten
 * minutes, who to page per condition, the 72-hour breach notification and the post-incident review
 * within 3 business days. Concrete people are per deployment (the seed keeps them out of the
 * repository), so the paging matrix defaults to role handles that a deployment maps to people.
 */

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date like "2026-12-25"');

export const incidentPolicySchema = z
  .object({
    /** Who may acknowledge as incident commander, post updates, change severity, resolve. */
    responders: z.array(policyHandle).min(1),
    /** P0: an incident commander acknowledges within this (seed: 15 min). */
    commanderAckWithin: duration.prefault('15m'),
    /** P0: the page is sent again this often until someone acknowledges. */
    commanderRepageEvery: duration.prefault('5m'),
    /** P0/P1: an update is due this long after the last one (seed P1: every 30 min). */
    updateEvery: duration.prefault('30m'),
    /** The IC is reminded this long before an update is due. */
    updateReminderBefore: duration.prefault('5m'),
    /** Seed 004 §1: the first-10-minutes checklist is due this long after the declaration. */
    firstStepsWithin: duration.prefault('10m'),
    /** Seed 004 §3: the regulator (SDAIA, PDPL) is notified within 72 hours of a qualifying breach. */
    breachNotifyWithin: duration.prefault('72h'),
    /** Escalations this long before the breach deadline, while the notification is not recorded. */
    breachEscalateBefore: z.array(duration).max(10).prefault(['48h', '24h', '6h', '1h']),
    /** Seed 004 §5: the blameless post-mortem within this many business days of the resolution. */
    reviewWithinBusinessDays: z.number().int().min(1).max(30).default(3),
    /** The IC is reminded this long before the review is due; a missed review is re-escalated every day. */
    reviewReminderBefore: duration.prefault('24h'),
    /** Business days for the review's due date (UTC): weekend days (0 = Sunday) and holidays. */
    businessCalendar: z
      .object({
        weekendDays: z
          .array(z.number().int().min(0).max(6))
          .max(6, 'must leave at least one business day')
          .default([0, 6]),
        holidays: z.array(isoDate).default([]),
      })
      .strict()
      .prefault({}),
    /** Seed 004 §8: who to page per condition (handles; roles until a deployment names people). */
    paging: z.partialRecord(z.enum(INCIDENT_CONDITIONS), z.array(policyHandle).min(1)).default({
      app_down: ['@oncall-platform'],
      db_down: ['@oncall-platform', '@dba'],
      security_incident: ['@security-lead', '@dpo'],
      customer_facing: ['@oncall-platform', '@customer-success'],
      llm_cost_spike: ['@oncall-platform', '@cto'],
      data_breach: ['@dpo', '@legal', '@security-lead'],
    }),
    /** Seed 004 §1.5: the customer-facing status page (a statuspage channel) when a customer is affected. */
    statusPage: z
      .object({ channel: z.string().min(1), service: z.string().min(1) })
      .strict()
      .optional(),
    /**
     * A freeze lifted by hand (freezeLift) waits for a responder's approval signed with a key in
     * `signers`, over that run and exactly what it lifts: the requester's name alone proves nothing.
     */
    requireSignedFreezeLifts: z.boolean().default(false),
    /** No signed approval within this time: the lift ends `approval_expired`, nothing lifted. */
    freezeLiftApprovalTimeout: duration.prefault('15m'),
    /** How old a lift's signature may be when it arrives: the gates' own field (15 min by default). */
    signatureMaxAge: gatePolicy.signatureMaxAge,
    /** The environment a P0/P1 freezes unless the declaration names another (seed 004 §1.3). */
    defaultEnvironment: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a lower-case environment name like "production"')
      .default('production'),
  })
  .strict();

export type IncidentPolicy = z.output<typeof incidentPolicySchema>;

/** The seed's ceilings: a policy may make the response faster, never slower. */
export function checkIncidentCeilings(policy: IncidentPolicy, ctx: z.RefinementCtx): void {
  const path = ['runbooks', 'incident'];
  const ceilings: [keyof IncidentPolicy, number, string][] = [
    ['commanderAckWithin', 15 * 60_000, 'an incident commander within 15 min (seed 004 §0)'],
    ['updateEvery', 30 * 60_000, 'a P1 update every 30 min (seed 004 §0)'],
    ['firstStepsWithin', 10 * 60_000, 'the first 10 minutes (seed 004 §1)'],
    ['breachNotifyWithin', 72 * 3_600_000, 'the regulator within 72 hours (seed 004 §3)'],
  ];
  for (const [field, ceiling, why] of ceilings)
    if ((policy[field] as number) > ceiling)
      ctx.addIssue({ code: 'custom', path: [...path, field], message: `must be at most the seed's ${why}` });
  if (policy.reviewWithinBusinessDays > 3)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'reviewWithinBusinessDays'],
      message: "must be at most the seed's 3 business days (seed 004 §5)",
    });
}
