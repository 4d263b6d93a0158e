import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fitResult, RESULT_MAX_BYTES, type ResultTrimmed } from '../../src/workflows/shared/fit-result';

/** fitResult is plain code (no workflow context): what a run returns, trimmed only past Temporal's limit. */

const bytesOf = (value: unknown): number => new TextEncoder().encode(JSON.stringify(value)).length;

describe('fitResult: a run’s result never goes over what Temporal takes', () => {
  test('a result that fits is returned as it is (the same object)', () => {
    const result = { outcome: 'completed', steps: [{ name: 'a' }, { name: 'b' }] };
    assert.equal(fitResult(result), result);
  });

  test('the longest list loses its oldest entries until the result fits, and says so', () => {
    const history = Array.from({ length: 3_000 }, (_, i) => ({
      at: `change ${i}`,
      reason: 'r'.repeat(1_000),
    }));
    const result = {
      outcome: 'resolved',
      detail: { severityHistory: history },
      notices: [{ kind: 'x' }, { kind: 'y' }],
    };
    const fitted = fitResult(result) as typeof result & { resultTrimmed: ResultTrimmed };
    assert.ok(bytesOf(fitted) <= RESULT_MAX_BYTES, `${bytesOf(fitted)} bytes`);
    assert.equal(fitted.outcome, 'resolved');
    assert.deepEqual(fitted.notices, result.notices, 'the short lists are kept');
    const kept = fitted.detail.severityHistory;
    assert.equal(kept.at(-1)!.at, 'change 2999', 'the latest entry is kept');
    assert.equal(fitted.resultTrimmed.omitted['detail.severityHistory'], 3_000 - kept.length);
    assert.ok(fitted.resultTrimmed.bytes > 3_000_000);
    assert.match(fitted.resultTrimmed.note, /over the 1.5 MB kept under Temporal's 2 MB limit/);
    assert.equal(result.detail.severityHistory.length, 3_000, 'the run’s own state is not touched');
  });

  test('multi-byte text is counted in bytes, and one long string is cut', () => {
    const result = { outcome: 'x', message: 'é'.repeat(1_000_000) };
    assert.ok(JSON.stringify(result).length < 1_100_000 && bytesOf(result) > RESULT_MAX_BYTES);
    const fitted = fitResult(result) as typeof result & { resultTrimmed: ResultTrimmed };
    assert.ok(bytesOf(fitted) <= RESULT_MAX_BYTES);
    assert.match(fitted.message, /characters cut\)$/);
  });
});
