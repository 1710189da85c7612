import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanOptions,
  SpanStatusCode,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from '@opentelemetry/sdk-trace';

/** Name of the tracer every llmbus span is made by (the instrumentation scope). */
export const TRACER_NAME = 'llmbus';

/** A started tracing pipeline; `shutdown` flushes the spans not yet exported. */
export interface Tracing {
  readonly serviceName: string;
  /** OTLP/HTTP URL the spans go to. */
  readonly endpoint: string;
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/** The OTLP exporter class, loaded when tracing is on: a process without an endpoint skips its load time. */
function otlpExporterClass(): typeof OTLPTraceExporter {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const otlp = require('@opentelemetry/exporter-trace-otlp-http') as {
    OTLPTraceExporter: typeof OTLPTraceExporter;
  };
  return otlp.OTLPTraceExporter;
}

/**
 * Starts OpenTelemetry tracing for this process when an OTLP endpoint is configured
 * (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`) and
 * OTEL_SDK_DISABLED is not `true`; returns undefined otherwise, and then no SDK is loaded into
 * the global API, so every span is the API's no-op. Configured by the standard variables
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
 * OTEL_SERVICE_NAME (default `llmbus-<service>`), OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER
 * and OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_SCHEDULE_DELAY / OTEL_BSP_MAX_QUEUE_SIZE /
 * OTEL_BSP_MAX_EXPORT_BATCH_SIZE / OTEL_BSP_EXPORT_TIMEOUT, and the exporter's
 * OTEL_EXPORTER_OTLP_* headers, timeout and compression. Spans are sent as OTLP/HTTP JSON.
 * Throws an Error naming the variable when one has an unusable value.
 */
export function startTracing(service: string, env: NodeJS.ProcessEnv = process.env): Tracing | undefined {
  if (active) return active;
  const endpoint = tracesEndpoint(env);
  if (endpoint === undefined || env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return undefined;
  checkProtocol(env);
  const serviceName =
    env['OTEL_SERVICE_NAME']?.trim() || (service.startsWith('llmbus') ? service : `llmbus-${service}`);
  const detected = detectResources({ detectors: [envDetector] });
  const resource = resourceFromAttributes({ 'service.name': serviceName }).merge(detected);
  const provider = new TracerProvider({
    resource,
    sampler: samplerFromEnv(env),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new (otlpExporterClass())(),
        scheduledDelayMillis: numberFromEnv(env, 'OTEL_BSP_SCHEDULE_DELAY'),
        maxQueueSize: numberFromEnv(env, 'OTEL_BSP_MAX_QUEUE_SIZE'),
        maxExportBatchSize: numberFromEnv(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
        exportTimeoutMillis: numberFromEnv(env, 'OTEL_BSP_EXPORT_TIMEOUT'),
      }),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const tracing: Tracing = {
    serviceName,
    endpoint,
    shutdown: async () => {
      if (active !== tracing) return;
      active = undefined;
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
  active = tracing;
  return tracing;
}

/**
 * Spans go out as OTLP/HTTP JSON, which every OTLP/HTTP receiver accepts (the OTLP specification
 * requires servers to take JSON as well as protobuf); gRPC needs another port and exporter.
 */
function checkProtocol(env: NodeJS.ProcessEnv): void {
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const value = env[name]?.trim();
    if (value && value !== 'http/json' && value !== 'http/protobuf') {
      throw new Error(
        `${name}=${value} is not supported: llmbus exports traces over OTLP/HTTP (JSON); set http/json ` +
          "and point OTEL_EXPORTER_OTLP_ENDPOINT at the receiver's HTTP port (4318 by default)",
      );
    }
  }
}

/** Flushes and stops the tracing `startTracing` started, if any (part of a clean shutdown). */
export async function shutdownTracing(): Promise<void> {
  await active?.shutdown();
}

/** The traces URL the exporter will use, or undefined when none is configured (tracing off). */
export function tracesEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  const specific = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim();
  if (specific) return specific;
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
  if (!base) return undefined;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

const RATIO_SAMPLERS = new Set(['traceidratio', 'parentbased_traceidratio']);

/** The sampler OTEL_TRACES_SAMPLER names (default `parentbased_always_on`, as the spec says). */
export function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  const name = env['OTEL_TRACES_SAMPLER']?.trim().toLowerCase() || 'parentbased_always_on';
  const ratio = RATIO_SAMPLERS.has(name) ? samplerRatio(env) : 1;
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      throw new Error(
        `OTEL_TRACES_SAMPLER=${name} is not supported; use always_on, always_off, traceidratio, ` +
          'parentbased_always_on, parentbased_always_off or parentbased_traceidratio',
      );
  }
}

function samplerRatio(env: NodeJS.ProcessEnv): number {
  const raw = env['OTEL_TRACES_SAMPLER_ARG']?.trim();
  if (!raw) return 1;
  const ratio = Number(raw);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new Error(`OTEL_TRACES_SAMPLER_ARG=${raw} must be a number from 0 to 1 (the sampled fraction)`);
  }
  return ratio;
}

function numberFromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name}=${raw} must be a whole number (milliseconds or a count)`);
  }
  return value;
}

/**
 * trace_id and span_id of the active span, for log lines (the OpenTelemetry log data model's
 * field names); empty when no span is recording (tracing off, or outside any span).
 */
export function activeTraceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * Runs `work` inside a new active span of the llmbus tracer: the span ends when the work settles,
 * with status ERROR and the exception recorded (and `error.type` set) when it throws. Without
 * tracing the span is a no-op and only `work` runs. `work` may add attributes to the span.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  work: (span: Span) => Promise<T>,
  parent?: Context,
): Promise<T> {
  const tracer = trace.getTracer(TRACER_NAME);
  return tracer.startActiveSpan(name, options, parent ?? context.active(), async (span) => {
    try {
      return await work(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks a span failed by `error`: status ERROR, the exception event, and `error.type`. */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setAttribute('error.type', errorType(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
  }
  return error instanceof Error ? error.name : 'unknown';
}

/** Sets the attributes whose values are defined (OpenTelemetry drops undefined ones with a warning). */
export function setDefinedAttributes(span: Span, attributes: Record<string, Attributes[string]>): void {
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined) span.setAttribute(key, value);
  }
}

/** Adds the defined attributes to the active span, when one is recording (e.g. a decision's outcome). */
export function annotateActiveSpan(attributes: Record<string, Attributes[string]>): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) setDefinedAttributes(span, attributes);
}

/**
 * Runs `work` in a SERVER span for a request that came in over HTTP, continuing the caller's trace
 * when it sent a W3C `traceparent` header (otherwise the span starts a trace); events the work
 * publishes are its children.
 */
export function inIncomingSpan<T>(
  name: string,
  traceparent: string | undefined,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
  return inSpan(name, { kind: SpanKind.SERVER, attributes }, work, parent);
}
