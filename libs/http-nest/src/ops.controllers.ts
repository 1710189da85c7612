import { ApiKeyRegistry } from '@llmbus/access';
import { Controller, Get, Header, Provider, UseGuards } from '@nestjs/common';
import { register } from 'prom-client';
import { API_KEY_REGISTRY, ApiKeyGuard, RequireRole } from './api-key.guard';

/** Liveness; open so that orchestrators can probe without a key. */
@Controller()
export class HealthController {
  @Get('healthz')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}

/** Prometheus metrics of this process (the default registry); readers and admins only. */
@Controller()
@UseGuards(ApiKeyGuard)
export class MetricsController {
  @Get('metrics')
  @RequireRole('reader')
  @Header('Content-Type', register.contentType)
  metrics(): Promise<string> {
    return register.metrics();
  }
}

/** The operations endpoints every stage serves when it has an HTTP port. */
export const OPS_CONTROLLERS = [HealthController, MetricsController];

/**
 * The API key registry provider for a stage whose only HTTP surface is the ops endpoints; with no
 * keys configured every protected route answers 401.
 */
export function apiKeyRegistryProvider(apiKeys: ApiKeyRegistry | undefined): Provider {
  return { provide: API_KEY_REGISTRY, useValue: apiKeys ?? ApiKeyRegistry.parse('') };
}
