import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import {
  ApplicationFailure,
  defaultPayloadConverter,
  noopMetricMeter,
  type Payload,
} from '@temporalio/common';
import { failureConverter } from '../../src/codec/failure-converter';
import { DECISION_REFUSED } from '../../src/workflows/shared/messages';
import { temporal } from '@temporalio/proto';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  runbookDataConverter,
} from '../../src/codec/aes-gcm';
import { generatePayloadKeyEntry, loadPayloadKeys, parsePayloadKeys } from '../../src/codec/keys';
import { startCodecServer } from '../../src/codec/server';
import { ConfigurationError } from '../../src/common/errors';
import { breakGlassRestore } from '../../src/workflows';
import {
  abortSignal,
  type BreakGlassRestoreInput,
} from '../../src/workflows/break-glass-restore/definitions';
import { createRunbookWorker, ISOLATE_EXECUTION_TIMEOUT_MS } from '../../src/worker/worker';
import { sealedInputInterceptor } from '../../src/worker/sealed-input';
import {
  SEALED_BY_CODEC_SERVER,
  unsealedActivityPayload,
  whyNotTaken,
} from '../../src/common/unsealed-payload';
import type { Context } from '@temporalio/activity';
import { historyText } from '../fixtures/history';
import { activityDeps, defaultPolicy } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { atStep, waitForStatus } from '../fixtures/wait';

const json = (value: unknown): Payload => ({
  metadata: { encoding: Buffer.from('json/plain') },
  data: Buffer.from(JSON.stringify(value)),
});
const keyId = (payload: Payload | null | undefined): string | undefined => {
  const id = payload?.metadata?.[KEY_ID_METADATA];
  return id ? Buffer.from(id).toString('utf8') : undefined;
};

/**
 * An activity's input through the worker's sealed-input interceptor: whether its code ran, or the
 * failure it was refused with.
 */
async function asActivityInput(
  activityType: string,
  arg: unknown,
): Promise<{ ran: boolean; failure?: ApplicationFailure }> {
  let ran = false;
  const { inbound } = sealedInputInterceptor({
    info: { activityType, workflowType: 'breakGlassRestore' },
    metricMeter: noopMetricMeter,
  } as unknown as Context);
  try {
    await inbound!.execute!({ args: [arg], headers: {} }, () => Promise.resolve((ran = true)));
    return { ran };
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, 'refused as an ApplicationFailure');
    return { ran, failure: error };
  }
}

describe('payload codec (AES-256-GCM)', () => {
  const [oldKey, newKey] = [generatePayloadKeyEntry('k-1'), generatePayloadKeyEntry('k-2')];
  const before = new AesGcmPayloadCodec(parsePayloadKeys(oldKey, 'test'));
  const after = new AesGcmPayloadCodec(parsePayloadKeys(`${newKey},${oldKey}`, 'test'));
  const forgetful = new AesGcmPayloadCodec(parsePayloadKeys(newKey, 'test'));

  test('round trip; the sealed payload shows only its encoding and key id', async () => {
    const plain = json({ secret: 'SENTINEL-7f3a' });
    const [sealed] = await before.encode([plain]);
    assert.deepEqual(Object.keys(sealed!.metadata!).sort(), ['encoding', KEY_ID_METADATA]);
    assert.equal(Buffer.from(sealed!.metadata!.encoding!).toString(), ENCRYPTED_ENCODING);
    assert.equal(keyId(sealed), 'k-1');
    assert.ok(!Buffer.from(sealed!.data!).includes('SENTINEL-7f3a'));
    assert.ok(!Buffer.from(sealed!.data!).includes('json/plain'), 'the inner encoding is sealed too');
    const [opened] = await before.decode([sealed!]);
    assert.deepEqual(JSON.parse(Buffer.from(opened!.data!).toString()), { secret: 'SENTINEL-7f3a' });
    // Two seals of one value differ (a fresh IV each time).
    const [again] = await before.encode([plain]);
    assert.notDeepEqual(Buffer.from(again!.data!), Buffer.from(sealed!.data!));
  });

  test('rotation: the newest key seals, every listed key opens; an unknown key fails naming it', async () => {
    const [underOld] = await before.encode([json('old')]);
    const [underNew] = await after.encode([json('new')]);
    assert.equal(keyId(underNew), 'k-2');
    assert.deepEqual(
      (await after.decode([underOld!, underNew!])).map(
        (p) => JSON.parse(Buffer.from(p.data!).toString()) as string,
      ),
      ['old', 'new'],
    );
    await assert.rejects(forgetful.decode([underOld!]), {
      name: 'PayloadKeyUnknownError',
      message:
        /encrypted under key "k-1", which this process does not hold \(its keys: k-2\); add "k-1" to RUNBOOKS_PAYLOAD_KEYS/,
    });
  });

  test('a payload altered or relabelled to another key does not open', async () => {
    const [sealed] = await after.encode([json('x')]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[flipped.length - 20]! ^= 1;
    await assert.rejects(after.decode([{ ...sealed!, data: flipped }]), {
      name: 'PayloadAuthenticationError',
    });
    const relabelled = {
      ...sealed!,
      metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from('k-1') },
    };
    await assert.rejects(after.decode([relabelled]), {
      name: 'PayloadAuthenticationError',
      message: /"k-1"/,
    });
  });

  test('failure messages are sealed too, except a refused decision (written for the UI dialog)', () => {
    const sealed = failureConverter.errorToFailure(
      ApplicationFailure.nonRetryable('psql: password authentication failed for SENTINEL-user', 'SqlFailed'),
      defaultPayloadConverter,
    );
    assert.equal(sealed.message, 'Encoded failure');
    assert.ok(!JSON.stringify(sealed).includes('SENTINEL'), 'the message went into encodedAttributes');
    assert.ok(sealed.encodedAttributes, 'which the codec encrypts');
    const refused = failureConverter.errorToFailure(
      ApplicationFailure.create({ type: DECISION_REFUSED, message: 'REFUSED (plan_hash_mismatch): …' }),
      defaultPayloadConverter,
    );
    assert.match(refused.message ?? '', /^REFUSED \(plan_hash_mismatch\)/);
  });

  test("payloads from before encryption pass through, except an activity's: wrapped, for the run or the worker to refuse", async () => {
    const plain = json({ recorded: 'before 0.3.0' });
    assert.deepEqual(await after.decode([plain]), [plain]);
    assert.deepEqual(
      await after.decode([plain], { type: 'workflow', namespace: 'default', workflowId: 'w' }),
      [plain],
    );
    const activity = {
      type: 'activity',
      namespace: 'default',
      workflowId: 'w',
      activityId: '4',
      isLocal: false,
    } as const;
    const [wrapped] = await after.decode([plain], activity);
    const value = defaultPayloadConverter.fromPayload(wrapped!);
    assert.deepEqual(unsealedActivityPayload(value), {
      encoding: 'json/plain',
      text: JSON.stringify({ recorded: 'before 0.3.0' }),
    });
    // Sealed, it opens as it always did.
    const [sealed] = await after.encode([plain]);
    const [opened] = await after.decode([sealed!], activity);
    assert.deepEqual(defaultPayloadConverter.fromPayload(opened!), { recorded: 'before 0.3.0' });
    // An activity asked to run with such an input fails for good before its code runs.
    const refused = await asActivityInput('executeRestore', value);
    assert.equal(refused.ran, false);
    assert.equal(refused.failure?.type, 'UnsealedActivityInput');
    assert.equal(refused.failure.nonRetryable, true);
    assert.match(refused.failure.message, /the input of executeRestore is not sealed/);
    assert.deepEqual(await asActivityInput('executeRestore', { recorded: 'sealed' }), { ran: true });
  });

  test("an activity's payload is sealed for its activity: opened there as written, wrapped for any other activity; one sealed before 0.23.0 opens anywhere", async () => {
    const restore = {
      type: 'activity',
      namespace: 'default',
      workflowId: 'break-glass-restore-INC-1',
      activityId: '7',
      isLocal: false,
    } as const;
    const result = json({ status: 'restored', verification: { ok: true } });
    const [sealed] = await after.encode([result], restore);
    assert.equal(Buffer.from(sealed!.metadata!.encoding!).toString(), ENCRYPTED_ENCODING);
    assert.ok(!Buffer.from(sealed!.data!).includes('INC-1'), 'the binding is inside the sealed bytes');
    // The payload as written (the binding taken out): its metadata and its value.
    const asWritten = (payloads: Payload[]) => {
      assert.equal(payloads.length, 1);
      assert.deepEqual(Object.keys(payloads[0]!.metadata!), ['encoding']);
      assert.deepEqual(defaultPayloadConverter.fromPayload(payloads[0]!), {
        status: 'restored',
        verification: { ok: true },
      });
    };
    // Its own activity, and outside any activity (the codec server for the Web UI).
    asWritten(await after.decode([sealed!], restore));
    asWritten(await after.decode([sealed!]));
    // A worker before 0.23.0 opens it as it opens any payload (the key id its only associated
    // data) and takes the value: the binding is one more metadata entry that it ignores.
    const { key } = parsePayloadKeys(newKey, 'test')[0]!;
    const bytes = Buffer.from(sealed!.data!);
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from('k-2'));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const plain = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(temporal.api.common.v1.Payload.decode(plain)), {
      status: 'restored',
      verification: { ok: true },
    });
    // Another run's activity, or another activity of the same run: wrapped, saying whose it was.
    for (const elsewhere of [
      { ...restore, workflowId: 'break-glass-restore-INC-2' },
      { ...restore, activityId: '8' },
    ]) {
      const [wrapped] = await after.decode([sealed!], elsewhere);
      assert.deepEqual(unsealedActivityPayload(defaultPayloadConverter.fromPayload(wrapped!)), {
        encoding: 'json/plain',
        text: Buffer.from(result.data!).toString(),
        sealedFor: { workflowId: 'break-glass-restore-INC-1', activityId: '7' },
      });
    }
    // Sealed before 0.23.0 (no activity named inside): opened for any activity, as before.
    const [unbound] = await after.encode([result]);
    asWritten(await after.decode([unbound!], { ...restore, activityId: '8' }));
    // An activity asked to run with another activity's sealed input fails for good, saying so.
    const [input] = await after.encode([json({ incidentId: 'INC-1' })], restore);
    const [movedInput] = await after.decode([input!], {
      ...restore,
      workflowId: 'rogue-run',
      activityId: 'rogue',
    });
    const moved = await asActivityInput('liftChangeFreeze', defaultPayloadConverter.fromPayload(movedInput!));
    assert.equal(moved.ran, false);
    assert.equal(moved.failure?.type, 'UnsealedActivityInput');
    assert.match(
      moved.failure.message,
      /the input of liftChangeFreeze was sealed by a runbooks worker for another activity \(activity 7 of break-glass-restore-INC-1\)/,
    );
  });

  test('keys are checked at start: size, ids, duplicates, and no keys without an explicit opt-out', () => {
    assert.throws(() => parsePayloadKeys('k=c2hvcnQ=', 'RUNBOOKS_PAYLOAD_KEYS'), {
      name: 'ConfigurationError',
      message: /key "k": must be 32 bytes in base64 \(AES-256\), got 5 bytes/,
    });
    assert.throws(
      () => parsePayloadKeys(`${oldKey},${oldKey}`, 'RUNBOOKS_PAYLOAD_KEYS'),
      /"k-1" is listed twice/,
    );
    assert.throws(() => parsePayloadKeys('no-equals-sign', 'RUNBOOKS_PAYLOAD_KEYS'), /expected id=base64key/);
    assert.throws(
      () => loadPayloadKeys({}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(
          error.message,
          /RUNBOOKS_PAYLOAD_KEYS .* or RUNBOOKS_PAYLOAD_KEYS_FILE.* RUNBOOKS_PAYLOAD_ENCRYPTION=off/s,
        );
        return true;
      },
    );
    assert.equal(loadPayloadKeys({ RUNBOOKS_PAYLOAD_ENCRYPTION: 'off' }), 'off');
    assert.throws(
      () => loadPayloadKeys({ RUNBOOKS_PAYLOAD_KEYS_FILE: '/nonexistent/keys' }),
      /cannot read \/nonexistent\/keys/,
    );
  });
});

describe('codec server (the Temporal convention, for the Web UI and the temporal CLI)', () => {
  const keys = parsePayloadKeys(generatePayloadKeyEntry('srv-1'), 'test');
  const ui = 'http://127.0.0.1:8233';
  const wire = (payloads: Payload[]) => ({
    payloads: payloads.map((p) =>
      temporal.api.common.v1.Payload.toObject(temporal.api.common.v1.Payload.create(p), { bytes: String }),
    ),
  });
  const fromWire = (body: { payloads: { metadata: Record<string, string>; data: string }[] }): Payload[] =>
    body.payloads.map((p) => ({
      metadata: Object.fromEntries(
        Object.entries(p.metadata).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
      ),
      data: Buffer.from(p.data, 'base64'),
    }));
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers },
      body: JSON.stringify(body),
    });

  test('encode then decode round trip; CORS for the UI origin only; the token when configured', async () => {
    const server = await startCodecServer({
      codec: new AesGcmPayloadCodec(keys),
      allowedOrigins: [ui],
      token: 's3cret',
    });
    try {
      const auth = { Authorization: 'Bearer s3cret', Origin: ui };
      const encoded = await post(`${server.url}/encode`, wire([json({ v: 'SENTINEL-codec' })]), auth);
      assert.equal(encoded.status, 200);
      assert.equal(encoded.headers.get('access-control-allow-origin'), ui);
      const sealed = (await encoded.json()) as {
        payloads: { metadata: Record<string, string>; data: string }[];
      };
      assert.equal(Buffer.from(sealed.payloads[0]!.metadata[KEY_ID_METADATA]!, 'base64').toString(), 'srv-1');
      assert.ok(!Buffer.from(sealed.payloads[0]!.data, 'base64').includes('SENTINEL-codec'));
      const decoded = await post(`${server.url}/decode`, sealed, auth);
      const opened = (await decoded.json()) as { payloads: { data: string }[] };
      assert.deepEqual(JSON.parse(Buffer.from(opened.payloads[0]!.data, 'base64').toString()), {
        v: 'SENTINEL-codec',
      });
      // What it sealed opens in a signal or a start (the UI's), and is refused in an activity's
      // place: anyone allowed to call /encode could otherwise seal an activity's answer.
      const [fromServer] = fromWire(sealed);
      const workerCodec = new AesGcmPayloadCodec(keys);
      const [asSignal] = await workerCodec.decode([fromServer!], {
        type: 'workflow',
        namespace: 'default',
        workflowId: 'w',
      });
      assert.deepEqual(defaultPayloadConverter.fromPayload(asSignal!), { v: 'SENTINEL-codec' });
      const [asResult] = await workerCodec.decode([fromServer!], {
        type: 'activity',
        namespace: 'default',
        workflowId: 'w',
        activityId: '3',
        isLocal: false,
      });
      const refused = unsealedActivityPayload(defaultPayloadConverter.fromPayload(asResult!));
      assert.deepEqual(refused?.sealedFor, SEALED_BY_CODEC_SERVER);
      assert.match(whyNotTaken(refused), /^was sealed by the codec server's POST \/encode/);

      // Preflight from the UI: allowed, with the headers the UI sends; from elsewhere: refused.
      const preflight = await fetch(`${server.url}/decode`, {
        method: 'OPTIONS',
        headers: {
          Origin: ui,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type,x-namespace,authorization',
        },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), ui);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /X-Namespace/);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
      const elsewhere = await fetch(`${server.url}/decode`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
      });
      assert.equal(elsewhere.status, 403);
      assert.equal(elsewhere.headers.get('access-control-allow-origin'), null);
      assert.equal(
        (await post(`${server.url}/decode`, sealed, { ...auth, Origin: 'https://evil.example' })).status,
        403,
      );

      // The token: none or a wrong one is refused.
      assert.equal((await post(`${server.url}/decode`, sealed, { Origin: ui })).status, 401);
      assert.equal(
        (await post(`${server.url}/decode`, sealed, { Origin: ui, Authorization: 'Bearer nope' })).status,
        401,
      );
      // A malformed body names the field.
      const bad = await post(`${server.url}/decode`, { payloads: [{ data: '***' }] }, auth);
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { message: string }).message, /payloads\.0\.data: must be base64/);
      // A payload under a key the server does not hold: 422 naming the key.
      const foreign = await new AesGcmPayloadCodec(
        parsePayloadKeys(generatePayloadKeyEntry('other'), 't'),
      ).encode([json(1)]);
      const unknown = await post(`${server.url}/decode`, wire(foreign), auth);
      assert.equal(unknown.status, 422);
      assert.match(((await unknown.json()) as { message: string }).message, /encrypted under key "other"/);
    } finally {
      await server.stop();
    }
  });
});

describe('encrypted runs (dev server: a restarted worker gets the run from history)', () => {
  const suite = workflowSuite({ server: 'dev', queuePrefix: 'tq-codec' });
  const key1 = generatePayloadKeyEntry('rot-1');
  const key2 = generatePayloadKeyEntry('rot-2');
  const converter = (entries: string) => runbookDataConverter(parsePayloadKeys(entries, 'test'));

  /** A runbook worker on the suite's server, opening payloads with `keys` (else the SDK's converter). */
  const runbookWorker = (taskQueue: string, keys?: string) =>
    createRunbookWorker({
      connection: suite.env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: suite.bundle,
      deps: activityDeps(defaultPolicy(), suite.db.pool),
      ...(keys ? { dataConverter: converter(keys) } : {}),
    });

  async function withWorker<T>(taskQueue: string, keys: string, fn: () => Promise<T>): Promise<T> {
    return (await runbookWorker(taskQueue, keys)).runUntil(fn());
  }

  // Not a codec matter: the one describe of test/worker with a server. See ISOLATE_EXECUTION_TIMEOUT_MS.
  test('a runbook worker gives a call into workflow code a minute, not the SDK’s 5 s, before stopping it (a stop in its microtasks aborts the process)', async () => {
    const worker = await runbookWorker(uniqueId('tq-codec'));
    await worker.runUntil(Promise.resolve());
    assert.equal(worker.options.isolateExecutionTimeoutMs, ISOLATE_EXECUTION_TIMEOUT_MS);
    assert.equal(ISOLATE_EXECUTION_TIMEOUT_MS, 60_000);
  });

  test('a run started under key 1 finishes after the worker moves to key 2 (key 1 still listed); a worker without key 1 fails its task naming the key', async () => {
    const taskQueue = uniqueId('tq-codec');
    const sentinel = `SENTINEL-${uniqueId('rationale')}`;
    const args: BreakGlassRestoreInput = {
      incidentId: uniqueId('INC'),
      targetHistoryId: 5,
      requestedBy: '@alice',
      rationale: `restore the snapshot (${sentinel})`,
    };
    const clientUnder = (keys: string) =>
      new Client({ connection: suite.env.connection, namespace: 'default', dataConverter: converter(keys) });
    const first = clientUnder(key1).workflow;
    const handle = await first.start(breakGlassRestore, {
      taskQueue,
      workflowId: `break-glass-restore-${args.incidentId}`,
      args: [args],
    });
    await withWorker(taskQueue, key1, () => waitForStatus(handle, atStep('awaiting_approval'), 'the gate'));

    // The worker restarts with key 2 only (key 1 forgotten): its task cannot read the input.
    const later = clientUnder(`${key2},${key1}`).workflow.getHandle<typeof breakGlassRestore>(
      handle.workflowId,
    );
    await withWorker(taskQueue, key2, async () => {
      await later.signal(abortSignal, { by: '@alice', reason: 'rotation test' });
      for (const deadline = Date.now() + 20_000; ;) {
        const events = (await later.fetchHistory()).events ?? [];
        const failed = events.find((e) => e.workflowTaskFailedEventAttributes);
        if (failed) {
          // The failure's message is sealed too (under the worker's key 2): in clear it says only
          // "Encoded failure"; whoever holds key 2 (the UI through the codec server) reads why.
          const failure = failed.workflowTaskFailedEventAttributes!.failure!;
          assert.equal(failure.message, 'Encoded failure');
          const [opened] = await new AesGcmPayloadCodec(parsePayloadKeys(key2, 'test')).decode([
            failure.encodedAttributes!,
          ]);
          const { message } = JSON.parse(Buffer.from(opened!.data!).toString()) as { message: string };
          assert.match(message, /encrypted under key "rot-1", which this process does not hold/);
          break;
        }
        assert.ok(Date.now() < deadline, 'the worker without key 1 never reported its failed task');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });

    // With key 1 listed after key 2, the run reads its history and finishes.
    const result = await withWorker(taskQueue, `${key2},${key1}`, () => later.result());
    assert.equal(result.outcome, 'aborted');

    const events = (await later.fetchHistory()).events ?? [];
    const started = events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0];
    const completed = events.at(-1)!.workflowExecutionCompletedEventAttributes!.result!.payloads![0];
    assert.equal(keyId(started), 'rot-1');
    assert.equal(keyId(completed), 'rot-2');
    const text = await historyText(later, false); // the export as stored
    assert.ok(!text.includes(sentinel), 'the rationale is not in the history in clear');
    assert.ok(!text.includes('restore the snapshot'), 'nor any of the input');
  });
});
