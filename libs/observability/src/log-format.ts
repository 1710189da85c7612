import type { DestinationStream } from 'pino';
import { prettyFactory } from 'pino-pretty';

/** How log lines are written: pino's JSON, or pino-pretty's readable lines. */
export type LogFormat = 'json' | 'pretty';

/**
 * The format a process logs in, from LOG_FORMAT (`auto`, `json` or `pretty`): `auto` is `pretty`
 * only when stdout is a terminal, so pipes, files and log shippers always get JSON. Services pass
 * `stdoutIsTTY: false` (JSON unless LOG_FORMAT=pretty); `npm start` passes the real answer.
 */
export function chooseLogFormat(setting: 'auto' | LogFormat, stdoutIsTTY: boolean): LogFormat {
  if (setting === 'auto') return stdoutIsTTY ? 'pretty' : 'json';
  return setting;
}

/**
 * Each JSON line pino writes, rewritten by pino-pretty's formatter and written to `destination`
 * (stdout by default) in the same call, so log lines and the banner keep their order; colours
 * only on a terminal.
 */
export function prettyDestination(destination?: DestinationStream): DestinationStream {
  const target = destination ?? process.stdout;
  const pretty = prettyFactory({
    colorize: destination === undefined && process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
  });
  return { write: (line: string) => void target.write(pretty(line)) };
}
