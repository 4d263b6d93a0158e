import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { workerLogger } from '../../src/worker/logging';

/**
 * The worker's log lines, in both formats, never carry a secret: the channels' configured values
 * (a webhook URL's token, in any position), a password in a connection URL, `token=` pairs, and
 * the same inside an error's message and stack. The text format (the local stack's) used to be
 * the SDK's own writer, which printed them as they came.
 */

const WEBHOOK_SECRET = 'T0AAA/B0BBB/hooks-s3cret-value';

function logOnce(format: 'json' | 'text'): string {
  const lines: string[] = [];
  const logger = workerLogger('INFO', format, [WEBHOOK_SECRET], (line) => lines.push(line));
  const failure = new Error(
    `POST https://hooks.example/services/${WEBHOOK_SECRET} failed: token=abc123def456`,
  );
  logger.warn(`delivery failed to https://hooks.example/services/${WEBHOOK_SECRET}`, {
    workflowId: 'break-glass-restore-INC-1',
    database: 'postgres://runbooks:pw-s3cret@db.internal:5432/ftf',
    nested: { attempts: [{ url: `https://hooks.example/services/${encodeURIComponent(WEBHOOK_SECRET)}` }] },
    error: failure,
  });
  logger.debug('below the level', { database: 'postgres://runbooks:pw-s3cret@db.internal:5432/ftf' });
  assert.equal(lines.length, 1, `${format}: one line, written through the worker's writer`);
  return lines[0]!;
}

describe('worker log lines', () => {
  for (const format of ['json', 'text'] as const)
    test(`${format}: no secret in the message, the fields, or an error's message and stack`, () => {
      const line = logOnce(format);
      for (const secret of ['hooks-s3cret-value', 'pw-s3cret', 'abc123def456'])
        assert.ok(!line.includes(secret), `${format} line holds ${secret}: ${line}`);
      assert.match(line, /delivery failed to https:\/\/hooks\.example\/services\/\*\*\*/);
      assert.match(line, /postgres:\/\/runbooks:\*\*\*@db\.internal:5432\/ftf/);
      assert.match(line, /break-glass-restore-INC-1/, 'the ids are kept');
      if (format === 'json') {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        assert.equal(parsed.level, 'WARN');
        assert.deepEqual(parsed.error, {
          name: 'Error',
          message: 'POST https://hooks.example/services/*** failed: token=***',
        });
      } else {
        assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z \[WARN\] delivery failed/);
        assert.match(
          line,
          /error: Error: POST https:\/\/hooks\.example\/services\/\*\*\* failed: token=\*\*\*\n\s+at /,
        );
      }
    });
});
