// Plays the process supervisor (systemd, Kubernetes) for the five stage processes: kills and pauses
// them on purpose, and restarts any that exits on its own, noting it, as production would.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pipeline } from '../../support/pipeline-harness';
import type { ServiceProcess } from '../../support/service-processes';

/** A stage process that exited without being told to. */
export interface UnplannedExit {
  readonly phase: string;
  readonly stage: string;
  readonly pid: number;
  readonly how: string;
  /** Its last output lines, for the report. */
  readonly tail: string;
}

const RESTART_DEADLINE_MS = 120_000;

/** Kills, pauses and restarts the pipeline's stage processes; restarts crashed ones. */
export class StageSupervisor {
  readonly unplannedExits: UnplannedExit[] = [];
  /** Label of the fault phase unplanned exits are filed under. */
  phase = 'start';
  private readonly planned = new Set<number>();
  private readonly paused = new Set<number>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Every process watched, for the logs. */
  private readonly watched: ServiceProcess[] = [];
  private stopping = false;

  constructor(
    private readonly pipeline: Pipeline,
    /** Where each spawned pid is recorded, so the wrapper can kill leftovers if jest dies. */
    private readonly pidDir: string,
  ) {}

  /** Starts watching every current service process. */
  watchAll(): void {
    for (const service of this.pipeline.services) this.watch(service);
  }

  /** SIGKILLs a stage, waits for it to exit, starts it again; resolves with the ms until it was ready. */
  kill9AndRestart(stage: string): Promise<number> {
    return this.exclusive(stage, async () => {
      const service = this.pipeline.service(stage);
      const exited = exitOf(service);
      this.planned.add(service.child.pid!);
      service.child.kill('SIGKILL');
      await exited;
      const started = Date.now();
      await this.startAgain(stage);
      return Date.now() - started;
    });
  }

  /** SIGSTOPs a stage process. */
  pause(stage: string): number {
    const pid = this.pipeline.service(stage).child.pid!;
    this.paused.add(pid);
    process.kill(pid, 'SIGSTOP');
    return pid;
  }

  /** SIGCONTs a paused stage process. */
  resume(stage: string): void {
    const pid = this.pipeline.service(stage).child.pid!;
    process.kill(pid, 'SIGCONT');
    this.paused.delete(pid);
  }

  /** Resumes whatever is paused and stops restarting crashed processes (before the pipeline stops). */
  release(): void {
    this.stopping = true;
    for (const pid of this.paused) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    this.paused.clear();
  }

  /** Writes each process's output to `<dir>/<stage>-<pid>.log`. */
  writeLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const service of this.watched) {
      writeFileSync(join(dir, `${service.name}-${service.child.pid}.log`), service.output());
    }
  }

  private watch(service: ServiceProcess): void {
    const pid = service.child.pid!;
    this.watched.push(service);
    writeFileSync(join(this.pidDir, String(pid)), `${service.name}\n`);
    service.child.once('exit', (code, signal) => {
      if (this.stopping || this.planned.delete(pid)) return;
      this.unplannedExits.push({
        phase: this.phase,
        stage: service.name,
        pid,
        how: signal ? `signal ${signal}` : `exit code ${code}`,
        tail: service.output().split('\n').slice(-6).join('\n'),
      });
      void this.exclusive(service.name, () => this.startAgain(service.name)).catch((error: unknown) => {
        process.stderr.write(`[chaos] could not restart ${service.name}: ${String(error)}\n`);
      });
    });
  }

  /** Starts a stage that has exited, retrying while its dependencies (the broker) are not back. */
  private async startAgain(stage: string): Promise<void> {
    const deadline = Date.now() + RESTART_DEADLINE_MS;
    for (;;) {
      try {
        this.watch(await this.pipeline.restartService(stage));
        return;
      } catch (error) {
        if (this.stopping || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /** Runs actions on one stage one at a time (a planned kill and a crash restart must not interleave). */
  private exclusive<T>(stage: string, action: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(stage) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(action);
    this.locks.set(stage, next);
    return next;
  }
}

function exitOf(service: ServiceProcess): Promise<void> {
  const { child } = service;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
