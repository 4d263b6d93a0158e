import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { callApi, MAX_RESPONSE_BYTES } from '../../src/activities/http';
import { eventually } from '../fixtures/wait';

/**
 * callApi's bound on a response body (every channel and tracker call goes through it), against a
 * loopback server that streams what the test asks: a body past the bound is not read to its end.
 */

const MIB = 1024 * 1024;
const CHUNK = Buffer.alloc(MIB, 'x');

interface Streamed {
  /** MiB written before the connection ended. */
  sent: number;
  closed: boolean;
}

let server: http.Server;
let baseUrl: string;
const streams = new Map<string, Streamed>();

before(async () => {
  server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://loopback');
    const status = Number(url.searchParams.get('status') ?? 200);
    const mib = Number(url.searchParams.get('mib') ?? 0);
    const streamed: Streamed = { sent: 0, closed: false };
    streams.set(url.searchParams.get('id') ?? '', streamed);
    response.on('close', () => (streamed.closed = true));
    if (url.searchParams.has('declare')) {
      // A length declared over the bound, and nothing sent: the client must not wait for it.
      response.writeHead(status, { 'content-length': String(mib * MIB) });
      response.write('{');
      return;
    }
    response.writeHead(status, { 'content-type': 'application/json' });
    const pump = (): void => {
      while (streamed.sent < mib && !streamed.closed) {
        streamed.sent++;
        if (!response.write(CHUNK)) return void response.once('drain', pump);
      }
      response.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function get(id: string, query: string): ReturnType<typeof callApi> {
  return callApi({
    channel: 'github',
    operation: 'search issues',
    url: `${baseUrl}?id=${id}&${query}`,
    method: 'GET',
    timeoutMs: 30_000,
    secrets: [],
  });
}

describe('a response body is read up to MAX_RESPONSE_BYTES', () => {
  test('a 2xx streaming 200 MiB fails for good, named, and is not read to its end', async () => {
    assert.equal(MAX_RESPONSE_BYTES, 16 * MIB);
    await assert.rejects(get('big', 'mib=200'), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'ChannelRejected');
      assert.equal(error.nonRetryable, true);
      assert.match(
        error.message,
        /^github: search issues: HTTP 200 with a body over 16 MiB, not read further/,
      );
      return true;
    });
    // The client closed the connection near the bound: before, it read all 200 MiB (and at 700
    // MiB took the body as empty).
    await eventually(() => streams.get('big')?.closed === true, 'the server sees the connection closed');
    assert.ok(streams.get('big')!.sent < 64, `sent ${streams.get('big')!.sent} MiB`);
  });

  test('a Content-Length over the bound is refused before the body is read', async () => {
    await assert.rejects(get('declared', 'mib=17&declare=1'), /HTTP 200 with a body over 16 MiB/);
  });

  test('a body at the bound is read whole; an error status with a body over it keeps its own classification', async () => {
    const whole = await get('whole', 'mib=16');
    assert.equal(whole.text.length, 16 * MIB);
    await assert.rejects(get('error', 'mib=40&status=503'), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'ChannelUnavailable');
      assert.notEqual(error.nonRetryable, true);
      assert.match(error.message, /HTTP 503 Service Unavailable: \(a body over 16 MiB, not read further\)$/);
      return true;
    });
  });
});
