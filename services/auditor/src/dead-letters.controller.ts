import type { Principal } from '@llmbus/access';
import type { AuditRecord, AuditStore } from '@llmbus/audit';
import { EventBus } from '@llmbus/bus';
import { DeadLetteredEvent, type DeadLettered } from '@llmbus/contracts';
import { ApiAuthenticated, AuthGuard, CurrentPrincipal, ErrorBody, RequireRole } from '@llmbus/http-nest';
import {
  ConflictException,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  UseFilters,
  UseGuards,
  ValidationPipe,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AuditQueryErrorFilter } from './audit-query-error.filter';
import { AuditPrivacy } from './audit-privacy';
import { AUDIT_STORE } from './auditor-deps';
import { DeadLettersQuery } from './http-dto';
import { DeadLetterListBody, DeadLetterReplayedBody } from './http-openapi';

const queryPipe = new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true });

/**
 * The tenant's dead letters as the auditor recorded them, and replay of one: its original message
 * republished, as received, to its original topic (what `orchestrate replay` does for a stage's
 * whole dead-letter topic). A replay is an operator's act: it needs the admin role.
 */
@ApiTags('dead-letters')
@Controller('v1/dead-letters')
@UseGuards(AuthGuard)
@UseFilters(AuditQueryErrorFilter)
export class DeadLettersController {
  constructor(
    @Inject(AUDIT_STORE) private readonly store: AuditStore,
    private readonly bus: EventBus,
    private readonly privacy: AuditPrivacy,
  ) {}

  @Get()
  @RequireRole('reader')
  @ApiAuthenticated('reader')
  @ApiOperation({ summary: "The tenant's dead letters, newest first, with their reason" })
  @ApiOkResponse({ type: DeadLetterListBody })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Query(queryPipe) query: DeadLettersQuery,
  ): Promise<{ deadLetters: readonly AuditRecord[] }> {
    const records = await this.store.deadLetters(principal.tenantId, query.limit ?? 50);
    return { deadLetters: records.map((record) => this.privacy.forReader(record, principal)) };
  }

  @Post(':eventId/replay')
  @HttpCode(202)
  @RequireRole('admin')
  @ApiAuthenticated('admin')
  @ApiOperation({ summary: 'Republish a dead letter’s original message to its original topic' })
  @ApiAcceptedResponse({ type: DeadLetterReplayedBody })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No dead letter with this event id for this tenant' })
  @ApiConflictResponse({
    type: ErrorBody,
    description: 'Only a truncated, sanitised or retention-removed copy was kept: it cannot be replayed',
  })
  async replay(
    @CurrentPrincipal() principal: Principal,
    @Param('eventId') eventId: string,
  ): Promise<{ eventId: string; topic: string }> {
    const record = await this.store.eventById(principal.tenantId, eventId);
    if (record?.envelope.type !== DeadLetteredEvent.type)
      throw new NotFoundException(`no dead letter ${eventId}`);
    if (record.payloadRemovedAt !== undefined)
      throw new ConflictException(
        `dead letter ${eventId} was removed by retention on ${record.payloadRemovedAt}`,
      );
    const letter = this.privacy.raw(record.envelope).data as unknown as DeadLettered;
    if (letter.originalValueTruncated || letter.originalSanitised || record.sanitisedReason !== undefined) {
      throw new ConflictException(
        `dead letter ${eventId} keeps only a truncated or sanitised copy of the message: it cannot be replayed as received`,
      );
    }
    await this.bus.transport.produce([
      {
        topic: letter.originalTopic,
        key: letter.originalKey ?? '',
        headers: letter.originalHeaders,
        value: letter.originalValue,
      },
    ]);
    return { eventId, topic: letter.originalTopic };
  }
}
