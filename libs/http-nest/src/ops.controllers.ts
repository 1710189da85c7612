import {
  Controller,
  Get,
  Header,
  Inject,
  Optional,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { register } from 'prom-client';
import { AuthGuard, RequireRole } from './auth.guard';
import { ApiAuthenticated } from './openapi';

/** DI token of a stage's optional ReadinessCheck. */
export const READINESS_CHECK = Symbol('READINESS_CHECK');

/** What a stage needs before it can serve; /healthz asks it on every probe. */
export interface ReadinessCheck {
  /** Undefined when ready; otherwise why not, in words safe to show without a key. */
  notReadyReason(): Promise<string | undefined>;
}

/** Whether a stage's event consumers are all consuming; `reason` says which is not and why. */
export interface StageHealth {
  readonly consuming: boolean;
  readonly reason?: string;
}

/** DI token of the `{ health(): StageHealth }` source that /healthz reports (the stage's bus). */
export const STAGE_HEALTH = Symbol('STAGE_HEALTH');

/** What STAGE_HEALTH provides. */
export interface StageHealthSource {
  health(): StageHealth;
}

/**
 * Health; open so that orchestrators can probe without a key. 200 `{status: "ok"}`, or 503
 * `{status: "not_ready", reason}` while one of the stage's event consumers is not consuming (a
 * process whose consumer left its group looks alive but does no work) or while the stage's
 * ReadinessCheck (when it provides one) says it cannot serve.
 */
@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(
    @Optional() @Inject(STAGE_HEALTH) private readonly consumers?: StageHealthSource,
    @Optional() @Inject(READINESS_CHECK) private readonly readiness?: ReadinessCheck,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Readiness of the stage; no key needed' })
  @ApiOkResponse({
    description: 'The stage consumes its events and can serve',
    schema: {
      type: 'object',
      required: ['status'],
      properties: { status: { type: 'string', enum: ['ok'] } },
    },
  })
  @ApiServiceUnavailableResponse({
    description: 'A consumer is not consuming, or the stage cannot serve yet',
    schema: {
      type: 'object',
      required: ['status', 'reason'],
      properties: { status: { type: 'string', enum: ['not_ready'] }, reason: { type: 'string' } },
    },
  })
  async health(): Promise<{ status: 'ok' }> {
    const consumers = this.consumers?.health() ?? { consuming: true };
    const reason = consumers.consuming
      ? await this.readiness?.notReadyReason()
      : `not consuming events: ${consumers.reason ?? 'unknown reason'}`;
    if (reason !== undefined) throw new ServiceUnavailableException({ status: 'not_ready', reason });
    return { status: 'ok' };
  }
}

/** Prometheus metrics of this process (the default registry); readers and admins only. */
@ApiTags('operations')
@Controller()
@UseGuards(AuthGuard)
export class MetricsController {
  @Get('metrics')
  @RequireRole('reader')
  @ApiAuthenticated('reader')
  @ApiOperation({ summary: 'Prometheus metrics of this process' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format', schema: { type: 'string' } })
  @Header('Content-Type', register.contentType)
  metrics(): Promise<string> {
    return register.metrics();
  }
}

/** The operations endpoints every stage serves when it has an HTTP port. */
export const OPS_CONTROLLERS = [HealthController, MetricsController];
