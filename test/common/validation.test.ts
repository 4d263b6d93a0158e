import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { approvePayloadSchema } from '../../src/workflows/shared/messages';
import { badFields, describeIssues, describeIssuesInline, ISSUES_LISTED } from '../../src/common/validation';
import { cutHead } from '../../src/common/text';

/**
 * What a refusal or an error says about a bad payload stays small whatever was sent: a payload
 * pasted into the Web UI can hold tens of thousands of keys, and the run keeps what it says.
 */

const PLAN_HASH = 'a'.repeat(64);

function pasted(keys: number): Record<string, unknown> {
  const payload: Record<string, unknown> = { approver: '@dococeven', planHash: PLAN_HASH };
  for (let i = 0; i < keys; i++) payload[`pasted_key_${i}`] = 1;
  return payload;
}

describe('describeIssues: every problem named, up to a bound', () => {
  test('a few bad fields are listed in full, one line each', () => {
    const parsed = approvePayloadSchema.safeParse({ approver: 'not a handle!', planHash: 'x' });
    assert.ok(!parsed.success);
    const text = describeIssues(parsed.error, 'approve payload');
    assert.match(text, /^approve payload is invalid:\n {2}approver: must be a handle/);
    assert.match(text, /\n {2}planHash: must be the 64-hex planHash/);
    assert.doesNotMatch(text, /more/);
  });

  test('60,000 unknown keys: ten named, the rest counted (was 1.99 MB)', () => {
    const parsed = approvePayloadSchema.safeParse(pasted(60_000));
    assert.ok(!parsed.success);
    const inline = describeIssuesInline(parsed.error, 'approve payload');
    assert.ok(inline.length < 500, `${inline.length} characters`);
    assert.match(inline, /\(root\): Unrecognized keys: "pasted_key_0", .*"pasted_key_9" and 59990 more$/);
    assert.doesNotMatch(inline, /pasted_key_10"/);
  });

  test('five unknown keys are all named, as zod words them', () => {
    const parsed = approvePayloadSchema.safeParse(pasted(5));
    assert.ok(!parsed.success);
    assert.match(
      describeIssuesInline(parsed.error, 'p'),
      /Unrecognized keys: "pasted_key_0", .*"pasted_key_4"$/,
    );
  });

  test(`more than ${ISSUES_LISTED} bad fields: the first ${ISSUES_LISTED} listed, the rest counted`, () => {
    const parsed = z.array(z.string()).safeParse(Array.from({ length: 5_000 }, (_, i) => i));
    assert.ok(!parsed.success);
    const lines = describeIssues(parsed.error, 'list').split('\n');
    assert.equal(lines.length, 1 + ISSUES_LISTED + 1);
    assert.match(lines[1]!, /^ {2}0: /);
    assert.equal(lines.at(-1), `  … and ${5_000 - ISSUES_LISTED} more problems`);
    assert.equal(badFields(parsed.error).length, ISSUES_LISTED);
  });

  test('a key of any length is cut in the path and in the message', () => {
    const key = 'k'.repeat(100_000);
    const parsed = z.record(z.string(), z.number()).safeParse({ [key]: 'not a number' });
    assert.ok(!parsed.success);
    const text = describeIssues(parsed.error, 'record');
    assert.ok(text.length < 600, `${text.length} characters`);
    assert.match(text, /… \(99800 characters cut\)/);
    assert.ok(badFields(parsed.error)[0]!.length < 300);
  });
});

describe('cutHead', () => {
  test('kept whole up to the bound, then cut and marked with what was cut', () => {
    assert.equal(cutHead('abc', 3), 'abc');
    assert.equal(cutHead('abcdef', 3), 'abc … (3 characters cut)');
    assert.equal(cutHead('abcdef', 3, '\n'), 'abc\n… (3 characters cut)');
  });
});
