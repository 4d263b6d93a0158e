import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  PATCH_FOLD_V1,
  PATCH_FOLD_V2,
  PATCH_FOLD_V3,
  PATCH_FOLD_V4,
  PATCH_FOLD_V5,
  PATCH_FOLDS,
  PATCHES,
} from '../../src/workflows/shared/patches';

/**
 * The folds (src/workflows/shared/patches.ts) answer for the patches they list in every run that
 * recorded them: a list that named a patch it did not hold, or changed after runs recorded it, would
 * send those runs down another path on replay. The 0.5.0 histories in test/replay keep v1's runs,
 * the 0.6.0 ones a v1 run with a later patch asked on its own.
 */
const digest = (ids: readonly string[]) => createHash('sha256').update(ids.join('\n')).digest('hex');

describe('patch folds', () => {
  test('list patches that exist, each once, and have ids of their own, newest first', () => {
    const known = new Set<string>(Object.values(PATCHES));
    for (const fold of PATCH_FOLDS) {
      assert.deepEqual(
        fold.patches.filter((id) => !known.has(id)),
        [],
        `every id ${fold.id} folds is a patch`,
      );
      assert.equal(new Set(fold.patches).size, fold.patches.length, `no patch twice in ${fold.id}`);
      assert.ok(!known.has(fold.id), `${fold.id} is not one of the patches it folds`);
    }
    assert.deepEqual(
      PATCH_FOLDS.map((fold) => fold.id),
      [
        'patches-folded-v5',
        'patches-folded-v4',
        'patches-folded-v3',
        'patches-folded-v2',
        'patches-folded-v1',
      ],
    );
  });

  test('v1 is the list runs recorded: the 32 patches that existed at 0.5.0, in that order', () => {
    // Runs recorded the fold with exactly this list: a patch added since is asked on its own, and
    // a new list needs a new fold id (this digest pins the list of patches-folded-v1).
    assert.equal(PATCH_FOLD_V1.id, 'patches-folded-v1');
    assert.equal(PATCH_FOLD_V1.patches.length, 32);
    assert.equal(
      digest(PATCH_FOLD_V1.patches),
      '56eb1aa5bba51cda0121ec424b29297202ec4c07e1d17ac656304a103bc5e56f',
    );
  });

  test('v2 is v1 and the patch of 0.6.0 (the backstop’s start in one activity), fixed from 0.7.0 on', () => {
    assert.deepEqual(PATCH_FOLD_V2.patches, [...PATCH_FOLD_V1.patches, PATCHES.backstopOpensInOneStep]);
    assert.equal(
      digest(PATCH_FOLD_V2.patches),
      digest([...PATCH_FOLD_V1.patches, 'backstop-open-program-v1']),
    );
  });

  test('v3 is v2 and the patches of 0.8.0 and 0.9.0, fixed from 0.9.0 on', () => {
    // The ids as runs recorded them, in order: the list is pinned, not derived from PATCHES.
    assert.deepEqual(PATCH_FOLD_V3.patches, [
      ...PATCH_FOLD_V2.patches,
      'break-glass-inline-steps-v1',
      'reenablement-soak-stopped-on-abort-v1',
      'reenablement-soak-stopped-after-failed-read-v1',
      'reenablement-soak-stopped-after-failed-start-v1',
      'backstop-one-timer-per-wait-v1',
    ]);
  });

  test('v4 is v3 and the patches of 0.10.0, 0.11.0 and 0.12.0, fixed from 0.12.0 on', () => {
    assert.deepEqual(PATCH_FOLD_V4.patches, [
      ...PATCH_FOLD_V3.patches,
      'run-cancellation-announced-v1',
      'overwrite-recovery-cancelled-with-child-v1',
      'backstop-open-program-local-v1',
    ]);
  });

  test('v5 is v4 and the start attributes kept (0.33.0), fixed from 0.33.0 on', () => {
    assert.deepEqual(PATCH_FOLD_V5.patches, [...PATCH_FOLD_V4.patches, 'start-attributes-kept-v1']);
  });
});
