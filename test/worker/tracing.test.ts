import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { trace } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { tracesExportFrom } from '../../src/worker/config';
import {
  EXPORT_FAILURE_REPORT_INTERVAL_MS,
  OtlpJsonSpanExporter,
  startTracing,
  type TracingLog,
} from '../../src/worker/tracing';
import { CLI_EXPORT_TIMEOUT_MS } from '../../src/cli/client';
import { HttpSink } from '../fixtures/sinks/http-sink';

/**
 * The OTLP exporter against a collector on loopback that is down, refuses, or takes the spans:
 * a collector's outage must not flood the worker's log (the batch exports every second), must say
 * how many spans were lost, and must never write the collector's token.
 */

interface Line {
  level: 'warn' | 'info';
  message: string;
  meta: Record<string, unknown>;
}

function recordingLog(): TracingLog & { lines: Line[] } {
  const lines: Line[] = [];
  return {
    lines,
    warn: (message, meta) => lines.push({ level: 'warn', message, meta }),
    info: (message, meta) => lines.push({ level: 'info', message, meta }),
  };
}

function someSpans(count: number): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider();
  provider.addSpanProcessor(new SimpleSpanProcessor(memory));
  const tracer = provider.getTracer('test');
  for (let i = 0; i < count; i += 1) tracer.startSpan(`span ${i}`).end();
  return memory.getFinishedSpans();
}

const exportOnce = (exporter: OtlpJsonSpanExporter, spans: ReadableSpan[]): Promise<ExportResult> =>
  new Promise((resolve) => exporter.export(spans, resolve));

/** A port nothing listens on (bound, read, released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('OTLP trace export', () => {
  const token = 'otlp-test-token-7f3a';
  let collector: HttpSink;
  before(async () => {
    collector = await HttpSink.start((request) =>
      request.headers.authorization === `Bearer ${token}`
        ? { status: 200, body: {} }
        : { status: 401, body: {} },
    );
  });
  after(() => collector.stop());

  test('an outage of ten minutes, one export a second, says so 10 times, counts the spans lost, and says the recovery', async () => {
    const exportTo = tracesExportFrom({
      RUNBOOKS_OTLP_TRACES_URL: `${collector.url}/v1/traces?tenant=ops`,
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: `authorization=Bearer%20${token}`,
    });
    assert.ok(exportTo);
    let clock = 1_000_000;
    const log = recordingLog();
    const exporter = new OtlpJsonSpanExporter(exportTo, log, undefined, () => clock);
    const spans = someSpans(3);

    assert.equal((await exportOnce(exporter, spans)).code, 0, 'taken with the token');
    assert.equal(collector.requests.at(-1)?.headers.authorization, `Bearer ${token}`);
    assert.equal(log.lines.length, 0, 'nothing said while exports succeed');

    collector.down({ status: 503, body: { message: `echo of Bearer ${token}` } });
    const seconds = 600;
    for (let second = 0; second < seconds; second += 1) {
      assert.equal((await exportOnce(exporter, spans)).code, 1);
      clock += 1_000;
    }
    const warnings = log.lines.filter((line) => line.level === 'warn');
    // The first at once, then one per started minute of the outage.
    assert.equal(warnings.length, seconds / (EXPORT_FAILURE_REPORT_INTERVAL_MS / 1_000));
    assert.deepEqual(warnings[0], {
      level: 'warn',
      message: 'traces not exported',
      meta: {
        url: `${collector.url}/v1/traces (query not shown)`,
        reason: 'HTTP 503 Service Unavailable',
        failedExports: 1,
        spansLost: 3,
        next: 'further failures are counted and said once a minute',
      },
    });
    assert.deepEqual(warnings[1]?.meta, {
      url: `${collector.url}/v1/traces (query not shown)`,
      reason: 'HTTP 503 Service Unavailable',
      failedExports: 61,
      spansLost: 183,
    });
    assert.equal(warnings[1]?.message, 'traces still not exported');

    collector.restore();
    assert.equal((await exportOnce(exporter, spans)).code, 0);
    assert.deepEqual(log.lines.at(-1), {
      level: 'info',
      message: 'traces exported again',
      meta: { url: `${collector.url}/v1/traces (query not shown)`, failedExports: 600, spansLost: 1_800 },
    });
    assert.equal((await exportOnce(exporter, spans)).code, 0);
    assert.equal(log.lines.length, 11, 'the recovery is said once');
    assert.ok(!JSON.stringify(log.lines).includes(token), 'the token is in no line');
  });

  test('a collector that does not answer holds a shutdown for the export timeout only (the CLI waits 2 s, not 10)', async () => {
    const hanging = await HttpSink.start(() => ({ status: 200, body: {} }));
    hanging.down('hang');
    try {
      const exportTo = tracesExportFrom({ RUNBOOKS_OTLP_TRACES_URL: `${hanging.url}/v1/traces` });
      assert.ok(exportTo);
      const log = recordingLog();
      const tracing = startTracing(exportTo, 'test-cli', log, CLI_EXPORT_TIMEOUT_MS);
      trace.getTracer('test').startSpan('StartWorkflow:test').end();
      const started = performance.now();
      await tracing.shutdown();
      const waitedMs = performance.now() - started;
      assert.ok(hanging.requests.length >= 1, 'the span was sent');
      assert.ok(
        waitedMs >= CLI_EXPORT_TIMEOUT_MS - 50 && waitedMs < CLI_EXPORT_TIMEOUT_MS + 1_500,
        `shutdown waited ${Math.round(waitedMs)} ms`,
      );
      assert.equal(log.lines[0]?.meta.reason, `no response within ${CLI_EXPORT_TIMEOUT_MS} ms`);
      // The shutdown resolved (a CLI command that did its work exited 1 here, saying "The operation
      // was aborted due to timeout"), and said what it could not send.
      assert.equal(log.lines.at(-1)?.message, 'traces not flushed at exit');
    } finally {
      hanging.restore();
      await hanging.stop();
    }
  });

  test('a collector that refuses the token, or is not there, is named with its reason', async () => {
    const log = recordingLog();
    const noToken = tracesExportFrom({ RUNBOOKS_OTLP_TRACES_URL: `${collector.url}/v1/traces` });
    assert.ok(noToken);
    assert.equal((await exportOnce(new OtlpJsonSpanExporter(noToken, log), someSpans(1))).code, 1);
    assert.equal(log.lines[0]?.meta.reason, 'HTTP 401 Unauthorized');

    const absent = tracesExportFrom({
      RUNBOOKS_OTLP_TRACES_URL: `http://127.0.0.1:${await closedPort()}/v1/traces`,
    });
    assert.ok(absent);
    assert.equal((await exportOnce(new OtlpJsonSpanExporter(absent, log), someSpans(2))).code, 1);
    assert.equal(log.lines[1]?.meta.reason, 'ECONNREFUSED');
    assert.equal(log.lines[1]?.meta.spansLost, 2);
  });
});
