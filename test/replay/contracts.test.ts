import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { z } from 'zod';
import { REPO_ROOT } from '../../src/local/paths';
import { MESSAGE_CONTRACTS } from '../../src/workflows/contracts';
import {
  contractIncompatibilities,
  incompatibilities,
  snapshotOf,
  type ContractSnapshot,
} from '../fixtures/contracts';
import { releaseHistoryDir } from '../fixtures/history';
import { payloadData } from '../fixtures/payload-keys';

/**
 * Frozen message contracts: each release records its workflows' input, signal and update schemas
 * (JSON Schema) under test/replay/contracts/<release>.json; today's must accept everything each
 * recorded release accepted (additive changes only, or a new version beside the old). And every
 * start input in the recorded histories still parses with today's schema.
 * `RECORD_HISTORIES=1 npm test` writes this release's file.
 */

const CONTRACTS = path.join(REPO_ROOT, 'test', 'replay', 'contracts');
const today: Record<string, ContractSnapshot> = Object.fromEntries(
  Object.entries(MESSAGE_CONTRACTS).map(([type, contract]) => [type, snapshotOf(contract)]),
);

if (process.env.RECORD_HISTORIES) {
  mkdirSync(CONTRACTS, { recursive: true });
  writeFileSync(
    path.join(CONTRACTS, `${path.basename(releaseHistoryDir())}.json`),
    `${JSON.stringify(today, null, 1)}\n`,
  );
}

const releases = readdirSync(CONTRACTS)
  .filter((name) => name.endsWith('.json'))
  .sort();

describe('message contracts', () => {
  test('a release has recorded its contracts', () => {
    assert.ok(releases.length > 0, 'no test/replay/contracts/<release>.json');
  });

  for (const file of releases) {
    test(`today's schemas accept everything release ${file.replace(/\.json$/, '')} accepted`, () => {
      const recorded = JSON.parse(readFileSync(path.join(CONTRACTS, file), 'utf8')) as Record<
        string,
        ContractSnapshot
      >;
      const problems = Object.entries(recorded).flatMap(([type, snapshot]) =>
        contractIncompatibilities(type, snapshot, today[type]),
      );
      assert.deepEqual(
        problems,
        [],
        'changes that are not additive (add a new version beside the old instead)',
      );
    });
  }

  test('the check can fail: a field made required or removed, an enum value dropped, a bound tightened', () => {
    const before = z
      .object({
        by: z.string().max(100),
        decision: z.enum(['waiver', 'revert', 'park']),
        note: z.string().optional(),
      })
      .strict();
    const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
    const additive = before.extend({
      decision: z.enum(['waiver', 'revert', 'park', 'defer']),
      extra: z.number().optional(),
    });
    assert.deepEqual(incompatibilities(json(before), json(additive)), []);
    const breaking = z
      .object({ by: z.string().max(50), decision: z.enum(['waiver', 'revert']), reason: z.string() })
      .strict();
    const problems = incompatibilities(json(before), json(breaking));
    for (const expected of [
      /\$\.by: maxLength 100 → 50 \(tighter\)/,
      /\$\.decision: value "park" no longer accepted/,
      /\$\.note: removed \(the object is strict\)/,
      /\$\.reason: now required/,
    ])
      assert.ok(
        problems.some((problem) => expected.test(problem)),
        `${expected} in ${problems.join('; ')}`,
      );
    const versioned = z.union([before, breaking]);
    assert.deepEqual(incompatibilities(json(before), json(versioned)), [], 'a new version beside the old');
  });

  test('every start input in the recorded histories parses with today’s schema', () => {
    const histories = path.join(REPO_ROOT, 'test', 'replay', 'histories');
    let checked = 0;
    for (const release of readdirSync(histories)) {
      for (const file of readdirSync(path.join(histories, release)).filter((f) => f.endsWith('.json'))) {
        const events =
          historyFromJSON(JSON.parse(readFileSync(path.join(histories, release, file), 'utf8'))).events ?? [];
        const started = events[0]?.workflowExecutionStartedEventAttributes;
        const type = started?.workflowType?.name ?? '';
        const payload = started?.input?.payloads?.[0];
        const contract = MESSAGE_CONTRACTS[type];
        assert.ok(contract, `${release}/${file}: no contract for ${type}`);
        const input = JSON.parse(payloadData(payload!).toString('utf8')) as unknown;
        const parsed = contract.input.safeParse(input);
        assert.ok(parsed.success, `${release}/${file}: ${parsed.error?.message}`);
        checked += 1;
      }
    }
    assert.ok(checked >= 20, `${checked} inputs checked`);
  });

  /**
   * A runbook that continues as new starts its next run with its parsed input (`{...input,
   * continued}`), defaults included. A default added to such an input is written into every
   * continued run, and a worker of an earlier release (its schema strict, without the field)
   * refuses that run during a rolling deploy. New fields of these inputs are optional, with no
   * default: only the defaults every supported release knows may appear.
   */
  test('the inputs of runbooks that continue as new gain no defaulted field (a rolling deploy would refuse their next run)', () => {
    const minimal: Record<string, Record<string, unknown>> = {
      phasedReenablement: {
        incidentId: 'INC-1',
        requestedBy: '@sre-lead',
        pilotRepo: 'compliance-service',
        canaryRepo: 'inventory-mgmt',
        phase2Repos: ['billing-api'],
        remainingRepos: [],
      },
      backstopProgram: { storyId: 'CVN-N001-EE-S17', mergeSha: '0b0a9c7f', mergedAt: '2026-05-12T00:00:00Z' },
    };
    /** Defaults the earliest recorded contract (0.2.0) already has. */
    const known: Record<string, string[]> = { phasedReenablement: ['holdOverrides'], backstopProgram: [] };
    for (const [type, input] of Object.entries(minimal)) {
      const parsed = MESSAGE_CONTRACTS[type]!.input.parse(input) as Record<string, unknown>;
      const added = Object.keys(parsed).filter((key) => !(key in input));
      assert.deepEqual(added, known[type], `${type}: fields its parse adds to a minimal input`);
    }
  });
});
