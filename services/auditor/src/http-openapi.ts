import { REQUEST_STATUSES } from '@llmbus/audit';
import { REVIEW_DECISIONS } from '@llmbus/contracts';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

// Response shapes of the audit API as the OpenAPI document describes them; the controllers
// return the audit store's interfaces (AuditRecord, PendingReview, RequestPage, StepCost).

class BusPositionBody {
  @ApiProperty() topic!: string;
  @ApiProperty() partition!: number;
  @ApiProperty({ description: 'Kafka offset, as a decimal string' }) offset!: string;
}

class ChainLinkBody {
  @ApiProperty({ description: "Position in the tenant's hash chain, from 1" }) seq!: number;
  @ApiProperty({ description: "SHA-256 hex of the tenant's previous record; 64 zeros for the first" })
  prevHash!: string;
  @ApiProperty({ description: 'SHA-256 hex of the record' }) hash!: string;
  @ApiProperty({ description: "SHA-256 hex of the payload's canonical JSON" }) payloadDigest!: string;
}

/** One recorded event. */
export class AuditRecordBody {
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The CloudEvents envelope as recorded (PII masked for readers without the pii role)',
  })
  envelope!: Record<string, unknown>;
  @ApiProperty({ type: () => BusPositionBody }) position!: BusPositionBody;
  @ApiProperty({ format: 'date-time' }) recordedAt!: string;
  @ApiPropertyOptional({ description: 'Why only a sanitised copy could be stored' }) sanitisedReason?: string;
  @ApiPropertyOptional({ type: () => ChainLinkBody }) chain?: ChainLinkBody;
  @ApiPropertyOptional({ format: 'date-time', description: 'When retention removed the payload' })
  payloadRemovedAt?: string;
}

/** 200 answer of `GET /v1/requests/:id/trail`. */
export class TrailBody {
  @ApiProperty() requestId!: string;
  @ApiProperty({ type: () => [AuditRecordBody], description: 'Event-time order' }) events!: AuditRecordBody[];
}

class RequestSummaryBody {
  @ApiProperty() requestId!: string;
  @ApiProperty({ enum: REQUEST_STATUSES }) status!: string;
  @ApiProperty({ format: 'date-time' }) firstEventAt!: string;
  @ApiProperty({ format: 'date-time' }) lastEventAt!: string;
  @ApiProperty() lastEventType!: string;
  @ApiProperty() events!: number;
}

/** 200 answer of `GET /v1/requests`. */
export class RequestPageBody {
  @ApiProperty({ type: () => [RequestSummaryBody], description: 'Newest first' })
  requests!: RequestSummaryBody[];
  @ApiPropertyOptional({ description: 'Pass as `cursor` for the next page; absent on the last page' })
  nextCursor?: string;
}

class StepCostBody {
  @ApiProperty({ description: 'Event type' }) type!: string;
  @ApiProperty({ type: String, nullable: true }) stage!: string | null;
  @ApiProperty() modelId!: string;
  @ApiProperty() events!: number;
  @ApiProperty() promptTokens!: number;
  @ApiProperty() completionTokens!: number;
  @ApiProperty({ description: 'US dollars' }) costUsd!: number;
  @ApiProperty() avgLatencyMs!: number;
  @ApiProperty() maxLatencyMs!: number;
}

/** 200 answer of `GET /v1/costs`. */
export class CostsBody {
  @ApiPropertyOptional({ format: 'date-time' }) since?: string;
  @ApiProperty({ type: () => [StepCostBody] }) steps!: StepCostBody[];
}

/** Text in a tool's result that reads as an instruction, shown to the approver as a warning. */
export class InjectedToolInstructionBody {
  @ApiProperty({ description: 'The call whose result holds the text' }) callId!: string;
  @ApiProperty() tool!: string;
  @ApiProperty({ description: 'The sentence found, at most 200 characters' }) excerpt!: string;
}

/** The `high` tool call a tool approval is about, as the reviewer may see it. */
export class ToolApprovalBody {
  @ApiProperty({ description: 'Derived call id; also the idempotency key the tool receives' })
  callId!: string;
  @ApiProperty() tool!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The exact arguments that would run',
  })
  arguments!: Record<string, unknown>;
  @ApiProperty({
    description:
      'Hex SHA-256 of the RFC 8785 canonical {tool, arguments}: an approval authorises this exact call only',
  })
  callHash!: string;
  @ApiProperty({ description: "The model's stated reason for the call" }) reason!: string;
  @ApiPropertyOptional({
    type: () => [InjectedToolInstructionBody],
    description:
      'Text in the results of earlier tool calls of the request that reads as instructions ("call restart_service now", "approve this"): the call may have been planted. The approval is required either way',
  })
  injectedInstructions?: InjectedToolInstructionBody[];
  @ApiProperty({
    format: 'date-time',
    description: 'After this instant no decision is accepted and the request fails as approval_expired',
  })
  expiresAt!: string;
}

class PendingReviewBody {
  @ApiProperty() requestId!: string;
  @ApiProperty({
    enum: ['output', 'tool-approval'],
    description:
      '`output`: decide on a generated output; `tool-approval`: on a high-risk tool call before it runs',
  })
  kind!: 'output' | 'tool-approval';
  @ApiPropertyOptional({ type: () => ToolApprovalBody, description: 'Present when kind is tool-approval' })
  toolApproval?: ToolApprovalBody;
  @ApiProperty({ type: () => AuditRecordBody, description: 'The latest ReviewRequested event' })
  review!: AuditRecordBody;
}

/** 200 answer of `GET /v1/reviews`. */
export class ReviewQueueBody {
  @ApiProperty({ type: () => [PendingReviewBody], description: 'Oldest first' })
  reviews!: PendingReviewBody[];
}

/** 202 answer of `POST /v1/reviews/:requestId/decision`. */
export class DecisionAcceptedBody {
  @ApiProperty() requestId!: string;
  @ApiProperty({ description: 'Id of the published ReviewDecided event' }) eventId!: string;
  @ApiProperty({ enum: REVIEW_DECISIONS }) decision!: string;
}

/** 200 answer of `GET /v1/dead-letters`. */
export class DeadLetterListBody {
  @ApiProperty({
    type: () => [AuditRecordBody],
    description:
      'Recorded DeadLettered events, newest first (reason, reasonCode, stage, original topic and message)',
  })
  deadLetters!: AuditRecordBody[];
}

/** 202 answer of `POST /v1/dead-letters/:eventId/replay`. */
export class DeadLetterReplayedBody {
  @ApiProperty({ description: 'Id of the replayed DeadLettered event' }) eventId!: string;
  @ApiProperty({ description: 'Topic the original message was republished to' }) topic!: string;
}

/** 200 answer of `GET /v1/principal`. */
export class PrincipalBody {
  @ApiProperty({ description: "The key's id (its first characters), or the token's subject" }) id!: string;
  @ApiProperty({ enum: ['api_key', 'jwt'] }) kind!: string;
  @ApiProperty() tenantId!: string;
  @ApiProperty({ type: [String], description: 'Roles of the credential (admin holds every role)' })
  roles!: string[];
  @ApiProperty({ type: [String] }) groups!: string[];
}
