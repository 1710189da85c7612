import { startStageApp, type StageApp } from '@llmbus/bus-nest';
import {
  DEFAULT_TOOLS_DIR,
  loadToolDirectory,
  openTools,
  productBuiltinTools,
  type BuiltinTool,
  type TicketTrailReader,
} from '@llmbus/tools';
import type { GeneratorDeps } from './generator-deps';
import { GeneratorModule } from './generator.module';

export * from './generator-deps';
export * from './generator.module';
export * from './model-choice';
export * from './redis-tool-call-claims';

/**
 * The tools written in the product that tool files may declare (`kind: builtin`): `log_search`,
 * `metrics_query` on PROMETHEUS_URL and `ticket_history` on the audit store (`ticketReader`); one
 * whose backend is not configured is still declared, and a call to it fails naming what to set.
 */
export function builtinTools(
  ticketReader?: TicketTrailReader,
  env: NodeJS.ProcessEnv = process.env,
): BuiltinTool[] {
  const prometheusUrl = env['PROMETHEUS_URL']?.trim();
  return productBuiltinTools({
    ...(prometheusUrl ? { prometheusUrl } : {}),
    ...(ticketReader === undefined ? {} : { ticketReader }),
  });
}

/**
 * Starts the generator's consumer (HTTP: only /healthz and /metrics, on METRICS_PORT). Without
 * `deps.tools` it opens the tool files (MCP servers included) and closes them with the app; a bad
 * tool file, or a workflow naming an undeclared tool, stops the start naming the file.
 */
export async function startGenerator(deps: GeneratorDeps): Promise<StageApp> {
  if (deps.tools !== undefined) return startWith(deps);
  const opened = await openTools(
    loadToolDirectory(deps.config.toolsDir ?? DEFAULT_TOOLS_DIR, process.env),
    builtinTools(deps.ticketReader),
  );
  try {
    const app = await startWith({ ...deps, tools: opened.registry });
    return {
      stage: app.stage,
      url: app.url,
      close: async () => {
        try {
          await app.close();
        } finally {
          await opened.close();
        }
      },
    };
  } catch (error) {
    await opened.close();
    throw error;
  }
}

function startWith(deps: GeneratorDeps): Promise<StageApp> {
  return startStageApp({
    module: GeneratorModule.forRoot(deps),
    bus: deps.bus,
    stage: 'generator',
    notifyRequester: true,
    // /healthz and /metrics only, when METRICS_PORT is set.
    httpPort: deps.config.metricsPort,
    httpHost: deps.config.http.host,
  });
}
export { ResponseGeneration, type GenerationInput } from './response-generation';
