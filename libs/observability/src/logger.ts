import pino, { Logger } from 'pino';

/**
 * Paths pino replaces with "[redacted]" wherever they appear in a log line: credentials, and the
 * free text of requests and documents, which may carry personal data.
 */
export const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers["x-api-key"]',
  'password',
  '*.password',
  'OPENAI_API_KEY',
  '*.OPENAI_API_KEY',
  'input',
  '*.input',
  'content',
  '*.content',
  'text',
  '*.text',
];

export interface LoggerOptions {
  readonly service: string;
  readonly level?: string;
}

/** The process logger: pino JSON, secrets and personal text redacted. */
export function createLogger(options: LoggerOptions): Logger {
  return pino({
    name: options.service,
    level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: options.service },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export type { Logger };
