// How `npm start` (scripts/start-embedded.mjs) passes a stop on to the platform's process.
import os from 'node:os';

/** How often the parent's pid is checked, in milliseconds (see superviseChild). */
export const PARENT_CHECK_MS = 1_000;

/**
 * Passes the stop signals this process gets on to `child` (the platform), and stops it with
 * SIGTERM once when this process's own parent has gone and no stop signal came here. `npm start` runs this script through
 * `sh -c`: npm passes a SIGTERM on to that shell only, which dies of it without passing it on, and
 * npm then exits; the platform kept running with LLMBUS_DATA_DIR's lock and its ports, and the next
 * start waited for it, then gave up. A SIGINT is passed on only when `fromTerminal` is false: a
 * Ctrl-C in a terminal reaches the whole foreground process group, the platform included.
 * Exits this process with the child's code (128 + the signal's number when killed by one).
 * @param child the platform's ChildProcess
 * @param fromTerminal whether stdin is a terminal
 */
export function superviseChild(child, fromTerminal) {
  const running = () => child.exitCode === null && child.signalCode === null;
  // Once a stop signal came here, the shell's going is part of that stop (a Ctrl-C reaches the
  // shell too), not a second one: the platform would take another signal for "exit at once".
  let stopAsked = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      stopAsked = true;
      if (signal === 'SIGINT' && fromTerminal) return;
      if (running()) child.kill(signal);
    });
  }
  const parent = process.ppid;
  const orphaned = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphaned);
    if (!stopAsked && running()) child.kill('SIGTERM');
  }, PARENT_CHECK_MS);
  child.on('exit', (code, signal) => {
    clearInterval(orphaned);
    process.exit(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1));
  });
}
