import type { AttributeValue, HrTime } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import {
  OpenTelemetryPlugin,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import { describeNetworkError, isFetchTimeout } from '../activities/http';
import { scrubSecrets } from '../common/scrub';
import type { TracesExport } from './config';

/**
 * Tracing (off unless RUNBOOKS_OTLP_TRACES_URL is set): Temporal's OpenTelemetry interceptors make
 * one trace of a run — the caller's start (when its client carries the interceptor, as the CLI's
 * does), the workflow, each activity it schedules and each activity's execution — and the spans
 * go by OTLP/HTTP (JSON) to the collector at that URL (e.g. http://otel-collector:4318/v1/traces).
 */
export interface Tracing {
  /** For a worker: workflow, activity and client interceptors, and the workflow spans' sink. */
  plugin: OpenTelemetryPlugin;
  /** For a client (the CLI): its start, signal and update calls open the run's trace. */
  clientInterceptor: OpenTelemetryWorkflowClientInterceptor;
  /** Sends what is buffered; says (never throws) when it cannot. */
  shutdown(): Promise<void>;
}

/** Where an export that failed is said (the worker's logger, or the CLI's stderr). */
export interface TracingLog {
  warn(message: string, meta: Record<string, unknown>): void;
  info(message: string, meta: Record<string, unknown>): void;
}

/** How long one export may wait for the collector: the worker's default. */
export const EXPORT_TIMEOUT_MS = 10_000;

export function startTracing(
  exportTo: TracesExport,
  serviceName: string,
  logger: TracingLog,
  exportTimeoutMs = EXPORT_TIMEOUT_MS,
): Tracing {
  const resource = new Resource({ 'service.name': serviceName });
  const exporter = new OtlpJsonSpanExporter(exportTo, logger, exportTimeoutMs);
  const processor = new BatchSpanProcessor(exporter, {
    scheduledDelayMillis: 1_000,
    exportTimeoutMillis: exportTimeoutMs + 1_000,
  });
  const provider = new BasicTracerProvider({ resource });
  provider.addSpanProcessor(processor);
  // The W3C propagator (the trace goes in each call's headers) and an async context, so the span
  // a client or activity opens is the one its calls carry.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  const tracer = provider.getTracer('durable-runbooks');
  return {
    plugin: new OpenTelemetryPlugin({ resource, spanProcessor: processor, tracer }),
    clientInterceptor: new OpenTelemetryWorkflowClientInterceptor({ tracer }),
    // Never rejects: a collector that is down at exit must not turn a command that did its work
    // (a run started, an approval sent) into a failure, nor a clean worker stop into a crash.
    shutdown: () =>
      provider.shutdown().catch((error: unknown) =>
        logger.warn('traces not flushed at exit', {
          url: exportTo.logUrl,
          reason: exporter.scrub(error instanceof Error ? error.message : String(error)),
        }),
      ),
  };
}

/** While exports keep failing, one warning at the first and then at most one per this interval. */
export const EXPORT_FAILURE_REPORT_INTERVAL_MS = 60_000;

/**
 * OTLP/HTTP with the JSON encoding (the collector's /v1/traces accepts application/json).
 * A collector that is down or refuses must not flood the worker's log (the batch exports every
 * second): the first failure is said at once, later ones are counted and said once a minute with
 * the spans lost, and the recovery is said with the totals. Messages name the URL without its
 * query and are scrubbed of the headers' values.
 */
export class OtlpJsonSpanExporter implements SpanExporter {
  private failedExports = 0;
  private spansLost = 0;
  private lastReportAt = 0;
  private readonly secrets: string[];

  constructor(
    private readonly exportTo: TracesExport,
    private readonly logger: TracingLog,
    private readonly timeoutMs = EXPORT_TIMEOUT_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.secrets = Object.values(exportTo.headers);
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    fetch(this.exportTo.url, {
      method: 'POST',
      headers: { ...this.exportTo.headers, 'content-type': 'application/json' },
      body: JSON.stringify(otlpTraces(spans)),
      signal: AbortSignal.timeout(this.timeoutMs),
      redirect: 'error',
    }).then(
      (response) => {
        // The body is not read into a message: a collector may echo what it was sent.
        void response.body?.cancel();
        if (response.ok) this.succeeded();
        else this.failed(spans.length, `HTTP ${response.status} ${response.statusText}`.trim());
        done({ code: response.ok ? ExportResultCode.SUCCESS : ExportResultCode.FAILED });
      },
      (error: unknown) => {
        this.failed(
          spans.length,
          isFetchTimeout(error) ? `no response within ${this.timeoutMs} ms` : describeNetworkError(error),
        );
        done({ code: ExportResultCode.FAILED, error: error as Error });
      },
    );
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  /** A message about an export, without the headers' values (the collector's token). */
  scrub(text: string): string {
    return scrubSecrets(text, this.secrets);
  }

  private failed(spans: number, reason: string): void {
    const first = this.failedExports === 0;
    this.failedExports += 1;
    this.spansLost += spans;
    const at = this.now();
    if (!first && at - this.lastReportAt < EXPORT_FAILURE_REPORT_INTERVAL_MS) return;
    this.lastReportAt = at;
    this.logger.warn(first ? 'traces not exported' : 'traces still not exported', {
      url: this.exportTo.logUrl,
      reason: this.scrub(reason),
      failedExports: this.failedExports,
      spansLost: this.spansLost,
      ...(first ? { next: 'further failures are counted and said once a minute' } : {}),
    });
  }

  private succeeded(): void {
    if (this.failedExports === 0) return;
    this.logger.info('traces exported again', {
      url: this.exportTo.logUrl,
      failedExports: this.failedExports,
      spansLost: this.spansLost,
    });
    this.failedExports = 0;
    this.spansLost = 0;
  }
}

const nanos = ([seconds, fraction]: HrTime): string =>
  (BigInt(seconds) * 1_000_000_000n + BigInt(fraction)).toString();

function attribute(
  key: string,
  value: AttributeValue | undefined,
): { key: string; value: Record<string, unknown> } {
  if (typeof value === 'boolean') return { key, value: { boolValue: value } };
  if (typeof value === 'number')
    return { key, value: Number.isInteger(value) ? { intValue: value } : { doubleValue: value } };
  return { key, value: { stringValue: Array.isArray(value) ? value.join(',') : String(value ?? '') } };
}

/** The OTLP JSON body: spans grouped by resource and instrumentation scope; ids in hex. */
export function otlpTraces(spans: ReadableSpan[]): unknown {
  const byResource = new Map<ReadableSpan['resource'], Map<string, ReadableSpan[]>>();
  for (const span of spans) {
    const scopes = byResource.get(span.resource) ?? new Map<string, ReadableSpan[]>();
    byResource.set(span.resource, scopes);
    const scope = span.instrumentationLibrary.name;
    scopes.set(scope, [...(scopes.get(scope) ?? []), span]);
  }
  return {
    resourceSpans: [...byResource].map(([resource, scopes]) => ({
      resource: {
        attributes: Object.entries(resource.attributes).map(([k, v]) => attribute(k, v as AttributeValue)),
      },
      scopeSpans: [...scopes].map(([name, scoped]) => ({
        scope: { name },
        spans: scoped.map((span) => ({
          traceId: span.spanContext().traceId,
          spanId: span.spanContext().spanId,
          ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
          name: span.name,
          // OTLP numbers the kinds from 1 (0 is "unspecified"); the API from 0.
          kind: span.kind + 1,
          startTimeUnixNano: nanos(span.startTime),
          endTimeUnixNano: nanos(span.endTime),
          attributes: Object.entries(span.attributes).map(([k, v]) => attribute(k, v)),
          status: {
            code: span.status.code,
            ...(span.status.message ? { message: span.status.message } : {}),
          },
        })),
      })),
    })),
  };
}
