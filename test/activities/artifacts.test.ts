import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DirectoryArtifactStore } from '../../src/activities/artifacts';
import { scrubHead, scrubSecrets, scrubTail } from '../../src/common/scrub';
import { scratchDir } from '../../src/local/servers';

describe('outputs are scrubbed before they enter a payload', () => {
  test('configured secret values, key=value pairs, bearer tokens, URL passwords and private keys', () => {
    const text = [
      'connecting with hunter2/configured and hunter2%2Fconfigured',
      'PGPASSWORD=s3cr3t-pg ok',
      'db_password: "quoted value"',
      "api_key='abc123xyz'",
      'client_secret = zzz-top',
      'token=t0k3n&next=1',
      'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig',
      'postgres://runner:pa55word@db.internal:5432/app',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
      'replicas: 3',
    ].join('\n');
    const clean = scrubSecrets(text, ['hunter2/configured']);
    for (const secret of [
      'hunter2/configured',
      'hunter2%2Fconfigured',
      's3cr3t-pg',
      'quoted value',
      'abc123xyz',
      'zzz-top',
      't0k3n',
      'eyJhbGciOiJIUzI1NiJ9',
      'pa55word',
      'b3BlbnNzaC1rZXktdjEAAAAA',
    ])
      assert.ok(!clean.includes(secret), `${secret} left in:\n${clean}`);
    assert.match(clean, /PGPASSWORD=\*\*\*/);
    assert.match(clean, /Bearer \*\*\*/);
    assert.match(clean, /postgres:\/\/runner:\*\*\*@db\.internal/);
    assert.match(clean, /\[private key removed\]/);
    assert.match(clean, /replicas: 3/, 'the rest stays readable');
  });

  test('cut to a bound, saying so', () => {
    const long = 'x'.repeat(10_000);
    assert.equal(scrubTail(long, [], 100).split('\n')[1]!.length, 100);
    assert.match(scrubTail(long, [], 100), /^… \(9900 characters cut\)/);
    assert.match(scrubHead(long, [], 100), /… \(9900 characters cut\)$/);
  });
});

describe('artifact store (a directory)', () => {
  test('the content goes to a file; the reference carries path, sha256, size and a scrubbed excerpt', async () => {
    const store = new DirectoryArtifactStore(path.join(scratchDir('runbooks-artifacts'), 'store'), [
      'SENTINEL-cfg',
    ]);
    const content = `password: SENTINEL-pair\nvalue: SENTINEL-cfg\n${'line\n'.repeat(500)}`;
    const ref = await store.put('INC-1-configmap.yaml', content);
    assert.equal(readFileSync(ref.path, 'utf8'), content);
    assert.equal(ref.sha256, createHash('sha256').update(content).digest('hex'));
    assert.equal(ref.bytes, Buffer.byteLength(content));
    assert.ok(!ref.excerpt.includes('SENTINEL'), ref.excerpt);
    assert.ok(ref.excerpt.length <= 400);
    assert.equal(statSync(ref.path).mode & 0o077, 0, 'owner-only');
    // The same name again (a retried activity) replaces it.
    const again = await store.put('INC-1-configmap.yaml', content);
    assert.equal(again.sha256, ref.sha256);
    await assert.rejects(() => store.put('../escape', 'x'), /letters, digits/);
  });
});
