import type { Principal } from '@llmbus/access';
import type { RequestStatusView } from '@llmbus/audit';
import { ApiAuthenticated, AuthGuard, CurrentPrincipal, ErrorBody, RequireRole } from '@llmbus/http-nest';
import { Controller, Get, NotFoundException, Param, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import {
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { StreamItem } from './draft-hub';
import { RouterRuntime } from './router-runtime';
import { StatusStoreUnavailableFilter } from './status-store-unavailable.filter';

/** Longest one stream stays open (a request waiting for human review can wait far longer). */
export const STREAM_MAX_MS = 10 * 60 * 1000;
/** Comment lines sent this often keep proxies from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000;
/** How long the outcome is looked for in the audit trail once the result topic announced it. */
const OUTCOME_WAIT_MS = 10_000;

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed']);

/**
 * `GET /v1/requests/:id/stream`: Server-Sent Events while a request runs. `status` (where it
 * stands, at once and on every change), `draft` (the output so far while the model writes, for
 * workflows with `output.stream: true`; each one replaces the previous), then `outcome` (what
 * `GET /v1/requests/:id` answers once it completed or failed) and the stream ends; `timeout`
 * ends it after STREAM_MAX_MS. Drafts come from the stream topic through this replica's DraftHub,
 * so any router replica serves any request. The tenant is the principal's: another tenant's
 * request is a 404, as in the status endpoint.
 */
@ApiTags('requests')
@Controller('v1/requests')
@UseGuards(AuthGuard)
export class RequestStreamController {
  constructor(private readonly runtime: RouterRuntime) {}

  @Get(':id/stream')
  @RequireRole('reader')
  @ApiAuthenticated('reader')
  @ApiOperation({
    summary:
      'Server-Sent Events of a request: status, drafts of the output while the model writes, then the outcome',
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description:
      'text/event-stream; events `status` {status}, `draft` {attempt, seq, text, done}, `outcome` (the status body of GET /v1/requests/:id), `timeout`',
    schema: { type: 'string' },
  })
  @ApiNotFoundResponse({ type: ErrorBody, description: 'No such request for this tenant' })
  @ApiServiceUnavailableResponse({
    type: ErrorBody,
    description: 'The audit store does not answer (`status_store_unavailable`, with Retry-After)',
  })
  @UseFilters(StatusStoreUnavailableFilter)
  async stream(
    @Param('id') id: string,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const tenantId = principal.tenantId;
    const pending: StreamItem[] = [];
    let deliver: (item: StreamItem) => void = (item) => pending.push(item);
    // Subscribed before the status is read, so nothing published in between is missed.
    const { latest, unsubscribe } = this.runtime.drafts.subscribe(tenantId, id, (item) => deliver(item));
    let view: RequestStatusView | undefined;
    try {
      view = await this.runtime.statuses.get(tenantId, id);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    if (view === undefined) {
      unsubscribe();
      throw new NotFoundException(
        `the audit trail has no record of request "${id}" for this tenant. If it was submitted moments ago, retry in a few seconds.`,
      );
    }

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    let eventId = 0;
    const send = (event: string, data: unknown) => {
      res.write(`event: ${event}\nid: ${++eventId}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = () => {
      if (finished) return;
      finished = true;
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
      res.end();
    };
    req.on('close', finish);
    timers.push(setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS));
    timers.push(
      setTimeout(() => {
        send('timeout', {
          requestId: id,
          afterMs: STREAM_MAX_MS,
          statusUrl: `/v1/requests/${encodeURIComponent(id)}`,
        });
        finish();
      }, STREAM_MAX_MS),
    );

    const sendOutcome = async (announced: 'completed' | 'failed') => {
      const outcome = await this.awaitOutcome(tenantId, id, announced);
      if (!finished) send('outcome', outcome);
      finish();
    };

    send('status', { requestId: id, status: view.status });
    if (TERMINAL.has(view.status)) {
      send('outcome', view);
      finish();
      return;
    }
    if (latest?.kind === 'draft') send('draft', draftBody(latest));
    let ending = false;
    deliver = (item) => {
      if (finished || ending) return;
      if (item.kind === 'draft') {
        send('draft', draftBody(item));
        return;
      }
      send('status', { requestId: id, status: item.status });
      if (item.status !== 'review') {
        ending = true;
        void sendOutcome(item.status);
      }
    };
    for (const item of pending.splice(0)) deliver(item);
  }

  /**
   * The request's status once the audit trail has recorded the announced outcome (the auditor
   * usually lags by milliseconds); after OUTCOME_WAIT_MS, the announcement alone with the status URL.
   */
  private async awaitOutcome(
    tenantId: string,
    id: string,
    announced: 'completed' | 'failed',
  ): Promise<unknown> {
    const deadline = Date.now() + OUTCOME_WAIT_MS;
    while (Date.now() < deadline) {
      const view = await this.runtime.statuses.get(tenantId, id).catch(() => undefined);
      if (view !== undefined && TERMINAL.has(view.status)) return view;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { requestId: id, status: announced, statusUrl: `/v1/requests/${encodeURIComponent(id)}` };
  }
}

function draftBody(item: StreamItem & { kind: 'draft' }) {
  return { attempt: item.attempt, seq: item.seq, text: item.text, done: item.done };
}
