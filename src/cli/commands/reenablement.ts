import { z } from 'zod';
import { handleSchema } from '../../common/identity';
import {
  PHASED_REENABLEMENT,
  pauseSignal,
  phasedReenablementInputSchema,
  phasedReenablementWorkflowId,
  resumeSignal,
  WAIVE_STAGING_SOAK,
  waiveStagingSoakSignal,
} from '../../workflows/phased-reenablement/definitions';
import { list, requiredText, validateFlag, validateOptions, type Values } from '../args';
import { signedPayload } from '../sign';
import type { Command } from '../command';
import { runRef } from '../runs';
import { sendDecision, startRun } from './helpers';

/** Phased re-enablement (seeds 002 and 003). */

const GROUP = 'Rollback to pilot scope (RB-LAUNCH-002) and phased re-enablement';

function control(values: Values) {
  return {
    by: validateFlag(handleSchema, values.by, '--by'),
    ...(values.reason ? { reason: values.reason } : {}),
  };
}

export const reenablementCommands: Command[] = [
  {
    name: 'start-reenablement',
    group: GROUP,
    usage:
      '--incident <id> --requested-by <@handle> --pilot <repo> --canary <repo> --phase2 a,b,c\n' +
      '                           [--remaining d,e,...] [--canary-hold 4h] [--phase2-hold 24h] [--batch-hold 24h]\n' +
      '                           [--waive-soak "why the staging soak cannot run"]   (then an approver runs waive-soak)\n' +
      "                           [--dry-run]   (read the allowlist, print every phase's set and hold, change nothing)",
    prepare(values) {
      const holdOverrides = Object.fromEntries(
        (
          [
            ['canaryHold', values['canary-hold']],
            ['phase2Hold', values['phase2-hold']],
            ['batchHold', values['batch-hold']],
          ] as const
        ).filter(([, hold]) => hold !== undefined),
      );
      const input = validateOptions(
        phasedReenablementInputSchema,
        {
          incidentId: values.incident,
          requestedBy: values['requested-by'],
          pilotRepo: values.pilot,
          canaryRepo: values.canary,
          phase2Repos: list(values.phase2),
          remainingRepos: list(values.remaining),
          holdOverrides,
          ...(values['waive-soak'] !== undefined
            ? { stagingSoakWaiver: { reason: values['waive-soak'] } }
            : {}),
          ...(values['dry-run'] ? { dryRun: true } : {}),
        },
        'start-reenablement',
        {
          incidentId: '--incident',
          requestedBy: '--requested-by',
          pilotRepo: '--pilot',
          canaryRepo: '--canary',
          phase2Repos: '--phase2',
          remainingRepos: '--remaining',
          'holdOverrides.canaryHold': '--canary-hold',
          'holdOverrides.phase2Hold': '--phase2-hold',
          'holdOverrides.batchHold': '--batch-hold',
          'stagingSoakWaiver.reason': '--waive-soak',
          dryRun: '--dry-run',
        },
      );
      return startRun({
        workflowType: PHASED_REENABLEMENT,
        workflowId: phasedReenablementWorkflowId(input.incidentId),
        args: [input],
        follow: `--incident ${input.incidentId} --procedure reenablement`,
      });
    },
  },
  {
    name: 'waive-soak',
    group: GROUP,
    usage:
      '--incident <id> --by <@handle> --plan-hash <hash> --sign-key <ssh key file> [--reason "..."]   (re-enablement, seed 002 §2)',
    prepare(values) {
      const planHash = validateFlag(
        z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64-hex planHash from "status"'),
        values['plan-hash'],
        '--plan-hash',
      );
      const keyFile = requiredText('--sign-key', values['sign-key']);
      const waiver = {
        by: validateFlag(handleSchema, values.by, '--by'),
        planHash,
        ...(values.reason ? { reason: values.reason } : {}),
      };
      return sendDecision(
        runRef(values, 'reenablement'),
        waiveStagingSoakSignal.name,
        waiver,
        values,
        signedPayload(keyFile, waiver, WAIVE_STAGING_SOAK),
      );
    },
  },
  {
    name: 'pause',
    group: GROUP,
    usage: '--incident <id> --by <@handle> [--reason "..."]                      (re-enablement)',
    prepare: (values) =>
      sendDecision(runRef(values, 'reenablement'), pauseSignal.name, control(values), values),
  },
  {
    name: 'resume',
    group: GROUP,
    usage: '--incident <id> --by <@handle> [--reason "..."]                      (re-enablement)',
    prepare: (values) =>
      sendDecision(runRef(values, 'reenablement'), resumeSignal.name, control(values), values),
  },
];
