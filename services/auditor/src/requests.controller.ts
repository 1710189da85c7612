import type { Principal } from '@llmbus/access';
import type { AuditRecord, AuditStore, RequestPage, StepCost } from '@llmbus/audit';
import { ApiAuthenticated, AuthGuard, CurrentPrincipal, ErrorBody, RequireRole } from '@llmbus/http-nest';
import {
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
import { AuditPrivacy } from './audit-privacy';
import { AUDIT_STORE } from './auditor-deps';
import { CostsQuery, ListRequestsQuery } from './http-dto';
import { CostsBody, PrincipalBody, RequestPageBody, TrailBody } from './http-openapi';

const queryPipe = new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true });
const DEFAULT_PAGE_SIZE = 50;

/** Read side of the trail; the caller's API key decides the tenant, never a parameter. */
@ApiTags('audit')
@Controller('v1')
@UseGuards(AuthGuard)
@UseFilters(AuditQueryErrorFilter)
export class RequestsController {
  constructor(
    @Inject(AUDIT_STORE) private readonly store: AuditStore,
    private readonly privacy: AuditPrivacy,
  ) {}

  @Get('principal')
  @ApiAuthenticated('reader')
  @ApiOperation({ summary: 'Who the credentials are: tenant and roles (the console shows what they allow)' })
  @ApiOkResponse({ type: PrincipalBody })
  principal(@CurrentPrincipal() principal: Principal): {
    id: string;
    kind: string;
    tenantId: string;
    roles: string[];
    groups: readonly string[];
  } {
    const { id, kind, tenantId, roles, groups } = principal;
    return { id, kind, tenantId, roles: [...roles].sort(), groups };
  }

  @Get('requests/:id/trail')
  @RequireRole('reader')
  @ApiAuthenticated('reader')
  @ApiOperation({ summary: "A request's recorded events, with their hash-chain links" })
  @ApiOkResponse({ type: TrailBody })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No events of this request for this tenant' })
  async trail(
    @CurrentPrincipal() principal: Principal,
    @Param('id') requestId: string,
  ): Promise<{ requestId: string; events: readonly AuditRecord[] }> {
    const events = await this.store.trail(principal.tenantId, requestId);
    // The same answer whether the request is another tenant's or nobody's: nothing leaks across tenants.
    if (events.length === 0) throw new NotFoundException(`no events for request ${requestId}`);
    return { requestId, events: events.map((record) => this.privacy.forReader(record, principal)) };
  }

  @Get('requests')
  @RequireRole('reader')
  @ApiAuthenticated('reader')
  @ApiOperation({ summary: "The tenant's requests, newest first, a page at a time" })
  @ApiOkResponse({ type: RequestPageBody })
  @ApiBadRequestResponse({ type: ErrorBody, description: 'Invalid limit or cursor' })
  list(
    @CurrentPrincipal() principal: Principal,
    @Query(queryPipe) query: ListRequestsQuery,
  ): Promise<RequestPage> {
    return this.store.listRequests(principal.tenantId, query.limit ?? DEFAULT_PAGE_SIZE, query.cursor);
  }

  @Get('costs')
  @RequireRole('reader')
  @ApiAuthenticated('reader')
  @ApiOperation({ summary: 'Tokens, cost and latency by step and model, optionally since a time' })
  @ApiOkResponse({ type: CostsBody })
  @ApiBadRequestResponse({ type: ErrorBody, description: 'since is not an ISO 8601 time' })
  async costs(
    @CurrentPrincipal() principal: Principal,
    @Query(queryPipe) query: CostsQuery,
  ): Promise<{ since?: string; steps: readonly StepCost[] }> {
    const since = query.since === undefined ? undefined : new Date(query.since);
    return { since: since?.toISOString(), steps: await this.store.costByStep(principal.tenantId, since) };
  }
}
