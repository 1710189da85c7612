import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { register } from 'prom-client';
import { AuthGuard, RequireRole } from './auth.guard';

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
@UseGuards(AuthGuard)
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
