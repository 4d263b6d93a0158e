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
  /** Sends what is buffered. */
  shutdown(): Promise<void>;
}

/** Where an export that failed is said (the worker's logger, or the CLI's stderr). */
export interface TracingLog {
  warn(message: string, meta: Record<string, unknown>): void;
}

export function startTracing(url: string, serviceName: string, logger: TracingLog): Tracing {
  const resource = new Resource({ 'service.name': serviceName });
  const processor = new BatchSpanProcessor(new OtlpJsonSpanExporter(url, logger), {
    scheduledDelayMillis: 1_000,
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
    shutdown: () => provider.shutdown(),
  };
}

/** OTLP/HTTP with the JSON encoding (the collector's /v1/traces accepts application/json). */
export class OtlpJsonSpanExporter implements SpanExporter {
  constructor(
    private readonly url: string,
    private readonly logger: TracingLog,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(otlpTraces(spans)),
      signal: AbortSignal.timeout(10_000),
    }).then(
      (response) => {
        if (!response.ok) this.logger.warn('traces not exported', { url: this.url, status: response.status });
        done({ code: response.ok ? ExportResultCode.SUCCESS : ExportResultCode.FAILED });
      },
      (error: unknown) => {
        this.logger.warn('traces not exported', { url: this.url, error: (error as Error).message });
        done({ code: ExportResultCode.FAILED, error: error as Error });
      },
    );
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
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
