import type { Principal } from '@llmbus/access';
import type { AuditStore, RequestCost, UsageRow } from '@llmbus/audit';
import { ApiAuthenticated, AuthGuard, CurrentPrincipal, ErrorBody, RequireRole } from '@llmbus/http-nest';
import {
  BadRequestException,
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  Query,
  UseFilters,
  UseGuards,
  ValidationPipe,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AuditQueryErrorFilter } from './audit-query-error.filter';
import { AUDIT_STORE } from './auditor-deps';
import { RequestCostBody, UsageBody, UsageQuery } from './usage-openapi';

const queryPipe = new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true });

/** Cost and usage accounting from the trail; the caller's API key decides the tenant, never a parameter. */
@ApiTags('usage')
@Controller('v1')
@UseGuards(AuthGuard)
@UseFilters(AuditQueryErrorFilter)
export class UsageController {
  constructor(@Inject(AUDIT_STORE) private readonly store: AuditStore) {}

  @Get('requests/:id/cost')
  @RequireRole('reader')
  @ApiAuthenticated('reader')
  @ApiOperation({
    summary: "A request's tokens, cost and model time by stage and model, with its workflow and outcome",
  })
  @ApiOkResponse({ type: RequestCostBody })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No events of this request for this tenant' })
  async requestCost(
    @CurrentPrincipal() principal: Principal,
    @Param('id') requestId: string,
  ): Promise<RequestCost> {
    const cost = await this.store.requestCost(principal.tenantId, requestId);
    // The same answer whether the request is another tenant's or nobody's.
    if (cost === undefined) throw new NotFoundException(`no events for request ${requestId}`);
    return cost;
  }

  @Get('usage')
  @RequireRole('reader')
  @ApiAuthenticated('reader')
  @ApiOperation({
    summary:
      "The tenant's tokens, cost and model time by workflow version, stage, model and request outcome over a time window",
  })
  @ApiOkResponse({ type: UsageBody })
  @ApiBadRequestResponse({
    type: ErrorBody,
    description: 'from/to not ISO 8601, to before from, bad interval',
  })
  async usage(
    @CurrentPrincipal() principal: Principal,
    @Query(queryPipe) query: UsageQuery,
  ): Promise<{ from?: string; to?: string; interval?: string; rows: readonly UsageRow[] }> {
    const from = query.from === undefined ? undefined : new Date(query.from);
    const to = query.to === undefined ? undefined : new Date(query.to);
    if (from && to && to < from) throw new BadRequestException('to must not be before from');
    const rows = await this.store.usage(principal.tenantId, { from, to, interval: query.interval });
    return { from: from?.toISOString(), to: to?.toISOString(), interval: query.interval, rows };
  }
}
