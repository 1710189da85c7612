import { piiLogScrubber } from '@llmbus/pii';
import { prettyDestination, type LogFormat } from './log-format';
import { activeTraceFields } from './tracing';
import pino, { type DestinationStream, type Logger, type LoggerOptions as PinoOptions } from 'pino';

/**
 * Paths pino replaces with "[redacted]" wherever they appear in a log line: credentials, and the
 * free text of requests, prompts, passages and outputs, which may carry personal data.
 */
export const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers["x-api-key"]',
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'OPENAI_API_KEY',
  '*.OPENAI_API_KEY',
  'LLMBUS_PII_KEY',
  '*.LLMBUS_PII_KEY',
  'piiKey',
  '*.piiKey',
  'LLMBUS_PII_PREVIOUS_KEYS',
  '*.LLMBUS_PII_PREVIOUS_KEYS',
  'piiPreviousKeys',
  '*.piiPreviousKeys',
  'piiVault',
  '*.piiVault',
  'input',
  '*.input',
  'content',
  '*.content',
  'text',
  '*.text',
  'body',
  '*.body',
  'prompt',
  '*.prompt',
  'renderedPrompt',
  '*.renderedPrompt',
  'messages',
  '*.messages',
  'passages',
  '*.passages',
  'output',
  '*.output',
];

export interface LoggerOptions {
  readonly service: string;
  readonly level?: string;
  /** Where lines go; stdout by default. */
  readonly destination?: DestinationStream;
  /** `pretty`: readable lines through pino-pretty (to `destination`, else stdout); JSON by default. */
  readonly format?: LogFormat;
  /** Rewrites free text before it is logged; default: the PII detector, every entity redacted. */
  readonly scrub?: (text: string) => string;
}

/**
 * The process logger: pino JSON; secrets and request text removed by redact paths, and every
 * other free-text string (the message, string fields, error messages and stacks) passed through
 * the PII detector, so a value that slips into a message is still redacted.
 */
export function createLogger(options: LoggerOptions): Logger {
  const scrub = options.scrub ?? piiLogScrubber();
  const settings: PinoOptions = {
    name: options.service,
    level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: options.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Lines written inside a recording span carry its trace_id and span_id (empty with tracing off).
    mixin: activeTraceFields,
    serializers: { err: (error: Error) => scrubError(error, scrub) },
    hooks: {
      logMethod(args, method) {
        // The first argument is the merge object or the message; later ones interpolate into it.
        const scrubbed = args.map((arg) => scrubStrings(arg, scrub, 1)) as typeof args;
        method.apply(this, scrubbed);
      },
    },
  };
  const destination =
    options.format === 'pretty' ? prettyDestination(options.destination) : options.destination;
  return destination ? pino(settings, destination) : pino(settings);
}

function scrubError(error: Error, scrub: (text: string) => string): Record<string, unknown> {
  const serialized = pino.stdSerializers.err(error);
  return { ...serialized, message: scrub(serialized.message), stack: scrub(serialized.stack) };
}

/** Strings of a value scrubbed, objects `depth` levels down (errors are left to the err serializer). */
function scrubStrings<T>(value: T, scrub: (text: string) => string, depth = 2): T {
  if (typeof value === 'string') return scrub(value) as T;
  if (depth < 0 || typeof value !== 'object' || value === null || value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => scrubStrings(item, scrub, depth - 1)) as T;
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, scrubStrings(inner, scrub, depth - 1)]),
  ) as T;
}

export type { Logger };
