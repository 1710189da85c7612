import { REQUEST_STATES } from '@llmbus/audit';
import { FAILURE_CODES, STAGES } from '@llmbus/contracts';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

// Response shapes of the ingress as the OpenAPI document describes them; the controller returns
// the interfaces these mirror (SubmitResponse, RequestStatusView).

/** 202 answer of `POST /v1/requests`. */
export class SubmitAcceptedBody {
  @ApiProperty() requestId!: string;
  @ApiProperty({ enum: ['accepted'] }) status!: 'accepted';
  @ApiProperty({ example: '/v1/requests/3f1c...', description: 'Where to poll the status' })
  statusUrl!: string;
}

class WorkflowRef {
  @ApiProperty() id!: string;
  @ApiProperty() version!: number;
}

class RequestFailure {
  @ApiProperty({ enum: FAILURE_CODES }) code!: string;
  @ApiProperty() message!: string;
  @ApiProperty({ enum: STAGES }) stage!: string;
  @ApiProperty({ type: [String] }) details!: string[];
}

/** 200 answer of `GET /v1/requests/:id`: the request's status from the audit trail. */
export class RequestStatusBody {
  @ApiProperty() requestId!: string;
  @ApiProperty({ enum: REQUEST_STATES }) status!: string;
  @ApiProperty({ format: 'date-time', description: 'Event time of the event that set the status' })
  updatedAt!: string;
  @ApiPropertyOptional({ type: () => WorkflowRef }) workflow?: WorkflowRef;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The released output' })
  output?: Record<string, unknown>;
  @ApiPropertyOptional({ type: [String] }) citations?: string[];
  @ApiPropertyOptional({ enum: ['validator', 'reviewer'] }) acceptedBy?: string;
  @ApiPropertyOptional({ type: () => RequestFailure }) failure?: RequestFailure;
  @ApiPropertyOptional({ description: 'Why the output went to human review' }) reviewReason?: string;
}
