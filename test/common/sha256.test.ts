import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { sha256Hex } from '../../src/common/sha256';

/** The workflow-side SHA-256 (no node:crypto in workflow code) against node's, on the edges that break one. */

const nodeSha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

describe('sha256Hex (plain TypeScript, for workflow code)', () => {
  test('the FIPS 180-4 examples', () => {
    assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(
      sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  test('as node:crypto for every length around the block edges and for multi-byte text', () => {
    for (let length = 0; length <= 200; length++) {
      const text = randomBytes(length)
        .toString('latin1')
        .replace(/[^\x20-\x7e]/g, 'x');
      assert.equal(sha256Hex(text), nodeSha256(text), `length ${length}`);
    }
    for (const text of ['é', 'Zürich — 東京 🚒', '\u{1f525}'.repeat(40), 'a\u0000b'])
      assert.equal(sha256Hex(text), nodeSha256(text), JSON.stringify(text));
  });
});
