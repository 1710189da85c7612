import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import type { ValidatorDeps } from './validator-deps';
import { ValidatorModule } from './validator.module';

export * from './validator-deps';
export * from './validator.module';

/** Starts the validator's consumer (HTTP: only /healthz and /metrics, on METRICS_PORT). */
export function startValidator(deps: ValidatorDeps): Promise<StageApp> {
  return startStageApp({
    module: ValidatorModule.forRoot(deps),
    bus: deps.bus,
    stage: 'validator',
    notifyRequester: true,
    // /healthz and /metrics only, when METRICS_PORT is set.
    httpPort: deps.config.metricsPort,
    httpHost: deps.config.http.host,
  });
}
export { ResponseValidation } from './response-validation';
