import type { Principal } from '@llmbus/access';
import { deriveEventId, outgoing } from '@llmbus/bus';
import { RequestSubmitted, RequestSubmittedEvent } from '@llmbus/contracts';
import { ApiKeyGuard, CurrentPrincipal, RequireRole } from '@llmbus/http-nest';
import { WorkflowError } from '@llmbus/workflows';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  PayloadTooLargeException,
  Post,
  UseGuards,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { RequestStatusView } from './request-status.store';
import { RouterRuntime } from './router-runtime';
import { SubmitRequestBody, submitBodyPipe } from './submit-request.dto';

/** The cause of a request submitted over HTTP, as an event source: this route. */
const HTTP_SUBMISSIONS = 'http:POST /v1/requests';

export interface SubmitResponse {
  readonly requestId: string;
  readonly status: 'accepted';
  readonly statusUrl: string;
}

/** HTTP ingress for systems that do not speak Kafka: submit a request, read its status. */
@Controller('v1/requests')
@UseGuards(ApiKeyGuard)
export class RequestsController {
  constructor(private readonly runtime: RouterRuntime) {}

  @Post()
  @HttpCode(202)
  @RequireRole('submitter')
  async submit(
    @Body(submitBodyPipe) body: SubmitRequestBody,
    @CurrentPrincipal() principal: Principal,
  ): Promise<SubmitResponse> {
    const requestId = body.requestId ?? randomUUID();
    const payload: RequestSubmitted = {
      requestId,
      eventType: body.eventType,
      workflow: body.workflow,
      input: body.input,
      requester: body.requester ?? { groups: [] },
      replyTo: body.replyTo,
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
      throw new PayloadTooLargeException(
        `the request is ${bytes} bytes once encoded; the limit is ${this.runtime.bus.maxEventBytes} bytes. Shorten the input.`,
      );
    }
    // Same tenant and request id, same event id: a retried POST is dropped as a duplicate downstream.
    // Another tenant's request with the same id is another cause, so it gets another event id.
    const cause = { tenantid: principal.tenantId, source: HTTP_SUBMISSIONS, id: requestId };
    const id = deriveEventId(cause, 'ingress', 1, RequestSubmittedEvent.type);
    await this.runtime.bus.publish([
      outgoing(RequestSubmittedEvent, payload, { tenantId: principal.tenantId, id }),
    ]);
    this.runtime.statuses.record(principal.tenantId, requestId, { status: 'accepted' });
    return { requestId, status: 'accepted', statusUrl: `/v1/requests/${encodeURIComponent(requestId)}` };
  }

  @Get(':id')
  @RequireRole('reader')
  status(@Param('id') id: string, @CurrentPrincipal() principal: Principal): RequestStatusView {
    const view = this.runtime.statuses.get(principal.tenantId, id);
    if (!view) {
      throw new NotFoundException(
        `no request "${id}" for this tenant; statuses are kept in memory for the ${this.runtime.statuses.capacity} most recent requests`,
      );
    }
    return view;
  }
}
