import type { PlatformConfig } from '@llmbus/config';
import { chooseLogFormat, type LogFormat } from '@llmbus/observability';

/**
 * How `npm start` logs: readable lines (pino-pretty) when stdout is a terminal, pino's JSON when
 * it is a pipe or a file; LOG_FORMAT=json or LOG_FORMAT=pretty decides instead.
 */
export function embeddedLogFormat(
  config: Pick<PlatformConfig, 'logFormat'>,
  stdout: { isTTY?: boolean },
): LogFormat {
  return chooseLogFormat(config.logFormat, stdout.isTTY === true);
}
