import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CARRIED } from '../../src/workflows/incident/definitions';
import { carriedFindings } from '../../src/workflows/incident/run';

/** What an incident hands to its next run stays bounded however long nobody answers it. */
describe('incident hand-over: the non-conformities it carries', () => {
  const finding = (i: number) => ({ code: 'update_missed', message: `no update ${i}`, at: `t${i}` });

  test('a few are carried as they are', () => {
    const few = [finding(1), finding(2)];
    assert.equal(carriedFindings(few, 0, 'now').findings, few);
  });

  test('many: the latest kept, one line counts the rest, across hand-overs', () => {
    const { findings: first, omitted } = carriedFindings(
      Array.from({ length: 1_000 }, (_, i) => finding(i)),
      0,
      'then',
    );
    assert.equal(first.length, CARRIED.nonConformities);
    assert.match(first[0]!.message, /^801 earlier non-conformities/);
    assert.equal(first.at(-1)!.message, 'no update 999');
    // The next run adds 300 more and hands over again: 801 + 300 left out now.
    const { findings: second } = carriedFindings(
      [...first, ...Array.from({ length: 300 }, (_, i) => finding(1_000 + i))],
      omitted,
      'later',
    );
    assert.equal(second.length, CARRIED.nonConformities);
    assert.match(second[0]!.message, /^1101 earlier non-conformities/);
    assert.equal(second.at(-1)!.message, 'no update 1299');
  });
});
