import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { PATCH_FOLD, PATCHES } from '../../src/workflows/shared/patches';

/**
 * The fold (src/workflows/shared/patches.ts) answers for the patches it lists in every run that
 * recorded it: a list that named a patch it did not hold, or changed after runs recorded it, would
 * send those runs down another path on replay. The 0.5.0 histories in test/replay keep its runs.
 */
describe('patch fold', () => {
  test('lists patches that exist, each once, and has an id of its own', () => {
    const known = new Set<string>(Object.values(PATCHES));
    assert.deepEqual(
      PATCH_FOLD.patches.filter((id) => !known.has(id)),
      [],
      'every folded id is a patch',
    );
    assert.equal(new Set(PATCH_FOLD.patches).size, PATCH_FOLD.patches.length, 'no patch twice');
    assert.ok(!known.has(PATCH_FOLD.id), 'the fold is not one of the patches it folds');
  });

  test('is the list runs recorded: the 32 patches that existed at 0.5.0, in that order', () => {
    // Runs recorded the fold with exactly this list: a patch added since is asked on its own, and
    // a new list needs a new fold id (this digest pins the list of patches-folded-v1).
    assert.equal(PATCH_FOLD.id, 'patches-folded-v1');
    assert.equal(PATCH_FOLD.patches.length, 32);
    assert.equal(
      createHash('sha256').update(PATCH_FOLD.patches.join('\n')).digest('hex'),
      '56eb1aa5bba51cda0121ec424b29297202ec4c07e1d17ac656304a103bc5e56f',
    );
  });
});
