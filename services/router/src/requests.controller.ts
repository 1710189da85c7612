import { Principal, requesterFor, RequesterIdentityError } from '@llmbus/access';
import type { RequestStatusView } from '@llmbus/audit';
import { deriveEventId, outgoing } from '@llmbus/bus';
import { canonicalDigest, RequestSubmitted, RequestSubmittedEvent } from '@llmbus/contracts';
import { ApiAuthenticated, AuthGuard, CurrentPrincipal, ErrorBody, RequireRole } from '@llmbus/http-nest';
import { inIncomingSpan } from '@llmbus/observability';
import { WorkflowError } from '@llmbus/workflows';
import {
  type BeforeApplicationShutdown,
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  Headers,
  HttpCode,
  NotFoundException,
  Param,
  PayloadTooLargeException,
  Post,
  Query,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiHeader,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { RouterRuntime } from './router-runtime';
import { StatusStoreUnavailableFilter } from './status-store-unavailable.filter';
import { RequestStatusBody, SubmitAcceptedBody } from './requests.openapi';
import { MAX_STATUS_WAIT_MS, waitForStatus } from './status-wait';
import { SubmitRequestBody, submitBodyPipe } from './submit-request.dto';

/** The cause of a request submitted over HTTP, as an event source: this route. */
const HTTP_SUBMISSIONS = 'http:POST /v1/requests';

export interface SubmitResponse {
  readonly requestId: string;
  readonly status: 'accepted';
  readonly statusUrl: string;
}

/**
 * Hex SHA-256 of the body's RFC 8785 canonical JSON, as submitted (fields left out are absent, the
 * requester as the caller stated it): what tells a retry of a request id from a reuse of it.
 */
export function digestOfBody(body: SubmitRequestBody): string {
  return canonicalDigest(JSON.parse(JSON.stringify(body)) as unknown);
}

/** HTTP ingress for systems that do not speak Kafka: submit a request, read its status. */
@ApiTags('requests')
@Controller('v1/requests')
@UseGuards(AuthGuard)
export class RequestsController implements BeforeApplicationShutdown {
  /** Aborted when the application stops: long polls then answer with the status as it stands. */
  private readonly stopping = new AbortController();

  constructor(private readonly runtime: RouterRuntime) {}

  /** Nest calls this before the HTTP server closes (see waitForStatus's `stopping`). */
  beforeApplicationShutdown(): void {
    this.stopping.abort();
  }

  @Post()
  @HttpCode(202)
  @RequireRole('submitter')
  @ApiAuthenticated('submitter')
  @ApiOperation({ summary: 'Submit a request to a workflow; the tenant comes from the credentials' })
  @ApiHeader({
    name: 'traceparent',
    required: false,
    description: "W3C trace context: the request's trace continues the caller's (with tracing on)",
  })
  @ApiAcceptedResponse({ type: SubmitAcceptedBody, description: 'Published; poll statusUrl for the outcome' })
  @ApiBadRequestResponse({
    type: ErrorBody,
    description:
      'Invalid body (`invalid_request`), unknown workflow or input its schema refuses, too many groups',
  })
  @ApiForbiddenResponse({
    type: ErrorBody,
    description:
      'Missing role, groups or user the principal does not hold (`forbidden_groups`, `forbidden_user`), or a tenant this ingress may not submit for (`untrusted_source`)',
  })
  @ApiConflictResponse({
    type: ErrorBody,
    description:
      'The requestId was already used with a different body (`request_id_conflict`); nothing is published',
  })
  @ApiPayloadTooLargeResponse({
    type: ErrorBody,
    description: 'The request exceeds LLMBUS_MAX_EVENT_BYTES once encoded as an event (`payload_too_large`)',
  })
  async submit(
    @Body(submitBodyPipe) body: SubmitRequestBody,
    @CurrentPrincipal() principal: Principal,
    @Headers('traceparent') traceparent?: string,
  ): Promise<SubmitResponse> {
    this.checkIngressTenant(principal);
    const requestId = body.requestId ?? randomUUID();
    const submissionDigest = digestOfBody(body);
    const payload: RequestSubmitted = {
      requestId,
      eventType: body.eventType,
      workflow: body.workflow,
      input: body.input,
      requester: this.requester(principal, body),
      replyTo: body.replyTo,
      submissionDigest,
    };
    // Routing here too turns an unknown workflow or bad input into an immediate 400; the router's
    // consumer checks again, as it must for requests that arrive straight from Kafka.
    try {
      this.runtime.workflows.route(payload);
    } catch (error) {
      if (error instanceof WorkflowError) {
        throw new BadRequestException({
          statusCode: 400,
          error: error.code,
          message: error.message,
          details: error.details,
        });
      }
      throw error;
    }
    const bytes = Buffer.byteLength(JSON.stringify(payload));
    if (bytes > this.runtime.bus.maxEventBytes) {
      const limit = this.runtime.bus.maxEventBytes;
      throw new PayloadTooLargeException({
        statusCode: 413,
        error: 'payload_too_large',
        message: `the request is ${bytes} bytes once encoded as an event; the limit is LLMBUS_MAX_EVENT_BYTES, ${limit} bytes. Shorten the input.`,
        variable: 'LLMBUS_MAX_EVENT_BYTES',
        maxEventBytes: limit,
      });
    }
    // Same tenant and request id, same event id: a retried POST is dropped as a duplicate downstream.
    // Another tenant's request with the same id is another cause, so it gets another event id.
    const cause = { tenantid: principal.tenantId, source: HTTP_SUBMISSIONS, id: requestId };
    const id = deriveEventId(cause, 'ingress', 1, RequestSubmittedEvent.type);
    if (body.requestId !== undefined) {
      const earlier = await this.runtime.statuses.submittedDigest(principal.tenantId, requestId, id);
      if (earlier !== undefined && earlier !== submissionDigest) {
        throw new ConflictException({
          statusCode: 409,
          error: 'request_id_conflict',
          message: `request id "${requestId}" was already used with a different body; a retry must send the same body, a new request needs a new requestId`,
          requestId,
        });
      }
    }
    // A caller that sends a traceparent header sees the request's trace continue its own.
    await inIncomingSpan(
      'POST /v1/requests',
      traceparent,
      { 'http.request.method': 'POST', 'http.route': '/v1/requests', 'llmbus.request_id': requestId },
      () =>
        this.runtime.bus.publish([
          outgoing(RequestSubmittedEvent, payload, { tenantId: principal.tenantId, id }),
        ]),
    );
    this.runtime.statuses.accepted(principal.tenantId, requestId, submissionDigest);
    return { requestId, status: 'accepted', statusUrl: `/v1/requests/${encodeURIComponent(requestId)}` };
  }

  /** Who the request is for comes from the principal; the body may only narrow its groups. */
  private requester(principal: Principal, body: SubmitRequestBody): RequestSubmitted['requester'] {
    try {
      return requesterFor(principal, body.requester);
    } catch (error) {
      if (!(error instanceof RequesterIdentityError)) throw error;
      const response = { error: error.code, message: error.message };
      if (error.code === 'too_many_groups') throw new BadRequestException({ statusCode: 400, ...response });
      throw new ForbiddenException({
        statusCode: 403,
        ...response,
        ...(error.code === 'forbidden_groups' ? { groups: error.refused } : {}),
      });
    }
  }

  /** Refuses now what the router's consumer would dead-letter: a tenant its ingress may not assert. */
  private checkIngressTenant(principal: Principal): void {
    const source = this.runtime.bus.ingressSource;
    const verdict = this.runtime.trustedSources?.check(source, principal.tenantId);
    if (!verdict || verdict.allowed) return;
    throw new ForbiddenException({
      statusCode: 403,
      error: 'untrusted_source',
      message: `this router's HTTP ingress (source "${source}") may not submit for tenant "${principal.tenantId}"; the operator allows it in LLMBUS_TRUSTED_SOURCES`,
    });
  }

  /** The request's status from the audit trail; 404 only when neither it nor this replica knows the request. */
  @Get(':id')
  @RequireRole('reader')
  @ApiAuthenticated('reader')
  @ApiOperation({ summary: "A request's status, output or failure, from the audit trail" })
  @ApiQuery({
    name: 'waitMs',
    required: false,
    schema: { type: 'integer', minimum: 0, maximum: MAX_STATUS_WAIT_MS, default: 0 },
    description:
      'Long poll: answer as soon as the request completes, fails or goes to human review (one already in review waits for its outcome), at the latest after this many milliseconds with its status then',
  })
  @ApiOkResponse({ type: RequestStatusBody })
  @ApiBadRequestResponse({
    type: ErrorBody,
    description: '`invalid_wait`: waitMs is not a whole number in range',
  })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such request for this tenant' })
  @ApiServiceUnavailableResponse({
    type: ErrorBody,
    description: 'The audit store does not answer (`status_store_unavailable`, with Retry-After)',
  })
  @UseFilters(StatusStoreUnavailableFilter)
  async status(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Query('waitMs') waitMs?: unknown,
  ): Promise<RequestStatusView> {
    const view = await waitForStatus(
      this.runtime.statuses,
      this.runtime.drafts,
      principal.tenantId,
      id,
      waitMsOf(waitMs),
      this.stopping.signal,
    );
    if (!view) {
      // The same answer for another tenant's request as for a missing one: nothing leaks across tenants.
      throw new NotFoundException(
        `the audit trail has no record of request "${id}" for this tenant. If it was submitted moments ago ` +
          '(straight to Kafka or through another router replica), the auditor may be behind: retry in a few seconds.',
      );
    }
    return view;
  }
}

/** The `waitMs` query parameter in milliseconds (0 when absent). @throws BadRequestException when it is not 0 to MAX_STATUS_WAIT_MS. */
function waitMsOf(value: unknown): number {
  if (value === undefined) return 0;
  const ms = typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(ms <= MAX_STATUS_WAIT_MS)) {
    throw new BadRequestException({
      statusCode: 400,
      error: 'invalid_wait',
      message: `waitMs must be a whole number of milliseconds from 0 to ${MAX_STATUS_WAIT_MS}, given once; got ${JSON.stringify(value)}`,
    });
  }
  return ms;
}
