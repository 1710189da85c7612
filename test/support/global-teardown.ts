// Jest globalTeardown for the integration and e2e projects: stop only what global-setup.ts started.
// Jest calls it once per project; the first call stops everything and later calls find nothing left.
import { stopStarted, testInfraState } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const state = testInfraState();
  if (!state || state.stops.length === 0) return;
  process.stderr.write(`[test infra] stopping services started for this run\n`);
  await stopStarted(state);
}
