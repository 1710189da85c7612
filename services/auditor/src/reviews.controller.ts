import type { Principal } from '@llmbus/access';
import type { AuditStore, PendingReview } from '@llmbus/audit';
import { ArgumentSchemaCheck } from '@llmbus/tools';
import { OutputValidator, WorkflowError, WorkflowRegistry } from '@llmbus/workflows';
import { EventBus, outgoing } from '@llmbus/bus';
import {
  ID_PATTERN,
  ReviewDecidedEvent,
  type ReviewDecided,
  type ReviewRequested,
  type ToolApproval,
} from '@llmbus/contracts';
import {
  ApiAuthenticated,
  AuthGuard,
  CurrentPrincipal,
  ErrorBody,
  RequireRole,
  StorableTextValidationPipe,
} from '@llmbus/http-nest';
import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiTags,
} from '@nestjs/swagger';
import { AuditQueryErrorFilter } from './audit-query-error.filter';
import { AuditPrivacy } from './audit-privacy';
import { AUDIT_STORE } from './auditor-deps';
import { ReviewDecisionBody } from './http-dto';
import { DecisionAcceptedBody, ReviewQueueBody } from './http-openapi';

const bodyPipe = new StorableTextValidationPipe({ whitelist: true, forbidNonWhitelisted: true });
const outputs = new OutputValidator();
const toolArguments = new ArgumentSchemaCheck();

/** The human-review surface: the queue, and decisions published as ReviewDecided. */
/** One entry of the review queue: an output review or a tool approval, with the recorded review. */
interface QueuedReview extends PendingReview {
  readonly kind: 'output' | 'tool-approval';
  readonly toolApproval?: ToolApprovalView;
}

/** What a reviewer sees of a tool approval: the exact call, the model's reason and the deadline (not the loop state). */
type ToolApprovalView = Omit<ToolApproval, 'loop'>;

/** The tool approval a recorded ReviewRequested carries, without the loop state; undefined for output reviews. */
function toolApprovalOf(data: Readonly<Record<string, unknown>>): ToolApprovalView | undefined {
  const approval = data['toolApproval'];
  if (data['kind'] !== 'tool-approval' || typeof approval !== 'object' || approval === null) return undefined;
  const { loop: _loop, ...view } = approval as ToolApproval;
  return view;
}

/** Whether an output review carries a parsed output (absent when the draft failed its schema). */
function hasDraftOutput(data: Readonly<Record<string, unknown>>): boolean {
  const output = data['output'];
  return typeof output === 'object' && output !== null;
}

/**
 * Refuses (403) an approval or edit by the principal who submitted the request: a high-risk call
 * needs a second person. The requester is the approval's `requestedBy`, or, on approvals recorded
 * before it was carried, the request's `requester.userId`. A requester may still reject its own call.
 */
function checkNotSelfApproval(
  requestId: string,
  approval: ToolApprovalView,
  review: Readonly<Record<string, unknown>>,
  principal: Principal,
  decision: ReviewDecisionBody['decision'],
): void {
  if (decision === 'reject') return;
  const requester =
    approval.requestedBy ??
    (review['context'] as { requester?: { userId?: unknown } } | undefined)?.requester?.userId;
  if (typeof requester !== 'string' || requester !== principal.id) return;
  throw new ForbiddenException({
    statusCode: 403,
    error: 'self_approval',
    message: `${principal.id} submitted request ${requestId} and cannot ${decision === 'edit' ? 'edit' : 'approve'} its own ${approval.tool} call: another principal with the reviewer role must decide it (the requester may only reject it)`,
  });
}

/** Refuses decisions a tool approval cannot take: an output, an edit without arguments, a late one. */
function checkToolDecision(requestId: string, approval: ToolApprovalView, body: ReviewDecisionBody): void {
  if (body.output !== undefined) {
    throw new BadRequestException(
      `request ${requestId} waits for a tool approval: edit with "arguments", not "output"`,
    );
  }
  if (body.decision === 'edit' && body.arguments === undefined) {
    throw new BadRequestException(`arguments are required with decision "edit" on a tool approval`);
  }
  if (Date.now() > Date.parse(approval.expiresAt)) {
    throw new ConflictException(
      `the approval of ${approval.tool} for request ${requestId} expired at ${approval.expiresAt}; the request fails as approval_expired`,
    );
  }
  // A decision binds to the exact call the reviewer saw: one taken on a stale screen (the call it
  // was for already decided, another now pending) must not authorise the next one.
  if (body.callHash === undefined && body.decision !== 'reject') {
    throw new BadRequestException(
      `callHash is required with decision "${body.decision}" on a tool approval: send the callHash GET /v1/reviews shows for the call you ${body.decision === 'edit' ? 'edit' : 'approve'}`,
    );
  }
  if (body.callHash !== undefined && body.callHash !== approval.callHash) {
    throw new ConflictException(
      `the pending approval of request ${requestId} is for another call (${approval.tool}, call ${approval.callId}, callHash ${approval.callHash}); the call you decided on is no longer pending: reload the queue`,
    );
  }
}

/**
 * Refuses (400 `invalid_arguments`, one detail per field) edited arguments that the tool's schema
 * rejects, so the approval stays pending and the reviewer can correct them, rather than accepting
 * the edit and having the call refused after the fact.
 */
function checkEditedArguments(
  tool: string,
  schema: Readonly<Record<string, unknown>>,
  args: Record<string, unknown>,
): void {
  const problems = toolArguments.problems(schema, args);
  if (problems.length === 0) return;
  throw new BadRequestException({
    statusCode: 400,
    error: 'invalid_arguments',
    message: `the edited arguments do not match the schema of ${tool}: ${problems.join('; ')}; the approval is still pending`,
    details: problems,
  });
}

@ApiTags('reviews')
@Controller('v1/reviews')
@UseGuards(AuthGuard)
@UseFilters(AuditQueryErrorFilter)
export class ReviewsController {
  constructor(
    @Inject(AUDIT_STORE) private readonly store: AuditStore,
    private readonly bus: EventBus,
    private readonly privacy: AuditPrivacy,
    private readonly workflows: WorkflowRegistry,
  ) {}

  @Get()
  @RequireRole('reviewer')
  @ApiAuthenticated('reviewer')
  @ApiOperation({ summary: 'Requests waiting for a human decision, oldest first' })
  @ApiOkResponse({ type: ReviewQueueBody })
  async queue(@CurrentPrincipal() principal: Principal): Promise<{ reviews: readonly QueuedReview[] }> {
    const reviews = await this.store.reviewQueue(principal.tenantId);
    return {
      reviews: reviews.map((pending) => {
        const review = this.privacy.forReader(pending.review, principal);
        const approval = toolApprovalOf(review.envelope.data);
        return {
          requestId: pending.requestId,
          kind: approval === undefined ? 'output' : 'tool-approval',
          ...(approval !== undefined && { toolApproval: approval }),
          review,
        };
      }),
    };
  }

  /**
   * Publishes the decision as caused by the pending ReviewRequested, so it inherits tenant,
   * correlation and trace, and its id derives from that review: a repeated or racing decision
   * on the same review carries the same id and consumers act on the first one only.
   */
  @Post(':requestId/decision')
  @HttpCode(202)
  @RequireRole('reviewer')
  @ApiAuthenticated('reviewer')
  @ApiOperation({
    summary: 'Approve, edit or reject a pending review; published as ReviewDecided',
    description:
      'Output reviews: `edit` carries `output`. Tool approvals: `approve` runs the exact call shown (bound to its callHash), `edit` carries `arguments` to run instead (checked against the tool schema on submission, 400 naming each field, and again by the generator), `reject` tells the model the call was refused; after `expiresAt` the decision is refused (409) and the request fails as approval_expired.',
  })
  @ApiAcceptedResponse({ type: DecisionAcceptedBody })
  @ApiBadRequestResponse({
    type: ErrorBody,
    description:
      'Invalid body or request id; an output or arguments without decision "edit"; arguments on an output review, or an output on a tool approval; an edited output that breaks the workflow output schema (`invalid_output`); edited tool arguments that break the tool\'s argument schema (`invalid_arguments`, one `details` line per field; the approval stays pending)',
  })
  @ApiForbiddenResponse({
    type: ErrorBody,
    description:
      'The key lacks the reviewer role, or (`self_approval`) the principal who submitted the request approves or edits its own tool call: another reviewer must',
  })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such request for this tenant' })
  @ApiConflictResponse({
    type: ErrorBody,
    description:
      'The request has no open review, or its tool approval has expired, or (`nothing_to_approve`) `approve` on an output review whose draft did not parse: edit or reject it',
  })
  @ApiPayloadTooLargeResponse({ type: ErrorBody, description: 'The body exceeds LLMBUS_MAX_EVENT_BYTES' })
  async decide(
    @CurrentPrincipal() principal: Principal,
    @Param('requestId') requestId: string,
    @Body(bodyPipe) body: ReviewDecisionBody,
  ): Promise<{ requestId: string; eventId: string; decision: ReviewDecided['decision'] }> {
    if (!ID_PATTERN.test(requestId))
      throw new BadRequestException('requestId must be 1-128 letters, digits, ".", "_", ":" or "-"');
    if (body.output !== undefined && body.decision !== 'edit') {
      throw new BadRequestException('output is only accepted with decision "edit"');
    }
    if (body.arguments !== undefined && body.decision !== 'edit') {
      throw new BadRequestException('arguments are only accepted with decision "edit"');
    }
    const state = await this.store.reviewState(principal.tenantId, requestId);
    switch (state.status) {
      case 'unknown_request':
        throw new NotFoundException(`no request ${requestId}`);
      case 'not_requested':
        throw new ConflictException(`request ${requestId} has no review to decide`);
      case 'resolved':
        throw new ConflictException(
          `the review of request ${requestId} is already closed (${state.resolvedBy})`,
        );
      case 'pending':
        break;
    }
    const approval = toolApprovalOf(state.review.envelope.data);
    if (approval !== undefined) {
      checkToolDecision(requestId, approval, body);
      checkNotSelfApproval(requestId, approval, state.review.envelope.data, principal, body.decision);
    } else if (body.decision === 'edit' && body.output === undefined) {
      throw new BadRequestException('output is required with decision "edit" (an output review)');
    } else if (body.decision === 'approve' && !hasDraftOutput(state.review.envelope.data)) {
      // The validator could only fail such an approval (nothing to release): refuse it here and
      // keep the review open, so a mistaken click does not end the request.
      throw new ConflictException({
        statusCode: 409,
        error: 'nothing_to_approve',
        message: `the draft of request ${requestId} did not parse as an output of its workflow, so there is nothing to approve: decide "edit" with an output, or "reject"`,
      });
    } else if (body.arguments !== undefined) {
      throw new BadRequestException(
        'arguments are only accepted on a tool approval; this is an output review',
      );
    } else if (body.callHash !== undefined) {
      throw new BadRequestException('callHash is only accepted on a tool approval; this is an output review');
    }
    const edited =
      body.output === undefined ? undefined : this.privacy.restoreFrom(state.review.envelope, body.output);
    if (edited !== undefined) this.checkEdit(state.review.envelope.data, edited);
    // The trail keeps the review masked; the decision carries it, and an edit of the masked view,
    // with the raw values, so the published result is what the request produced.
    const editedArguments =
      body.arguments === undefined
        ? undefined
        : this.privacy.restoreFrom(state.review.envelope, body.arguments);
    if (approval?.argumentsSchema !== undefined && editedArguments !== undefined) {
      checkEditedArguments(approval.tool, approval.argumentsSchema, editedArguments);
    }
    const decided: ReviewDecided = {
      requestId,
      reviewer: principal.id,
      decision: body.decision,
      ...(edited !== undefined && { output: edited }),
      ...(editedArguments !== undefined && { arguments: editedArguments }),
      ...(body.comment !== undefined && { comment: body.comment }),
      // Recorded only after the bus validated it as a ReviewRequested.
      review: this.privacy.raw(state.review.envelope).data as unknown as ReviewRequested,
    };
    const [published] = await this.bus.publish([outgoing(ReviewDecidedEvent, decided)], {
      envelope: state.review.envelope,
      stage: 'auditor',
    });
    return { requestId, eventId: published.id, decision: body.decision };
  }

  /** Refuses (400, one detail per problem) an edited output that the workflow's output schema rejects. */
  private checkEdit(review: Record<string, unknown>, output: Record<string, unknown>): void {
    const ref = (review['context'] as { workflow?: { id?: unknown; version?: unknown } } | undefined)
      ?.workflow;
    let problems: string[];
    try {
      problems = outputs.schemaErrors(this.workflows.get(String(ref?.id), Number(ref?.version)), output);
    } catch (error) {
      if (!(error instanceof WorkflowError)) throw error;
      throw new BadRequestException({
        statusCode: 400,
        error: 'unknown_workflow',
        message: `the auditor cannot check this edit: it does not load workflow ${String(ref?.id)}@${String(ref?.version)} (LLMBUS_WORKFLOWS_DIR)`,
      });
    }
    if (problems.length > 0) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'invalid_output',
        message: `the edited output does not match the workflow's output schema: ${problems.join('; ')}`,
        details: problems,
      });
    }
  }
}
