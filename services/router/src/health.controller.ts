import { ApiKeyGuard, RequireRole } from '@llmbus/http-nest';
import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { register } from 'prom-client';

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
