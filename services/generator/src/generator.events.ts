import { HandlerContext, outgoing, Outgoing } from '@llmbus/bus';
import {
  ContextRetrieved,
  ContextRetrievedEvent,
  EventEnvelope,
  RegenerationRequested,
  RegenerationRequestedEvent,
  ResponseGeneratedEvent,
} from '@llmbus/contracts';
import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DraftPublisher } from './draft-stream';
import { ModelCallRecorder } from './model-call-recorder';
import { ResponseGeneration } from './response-generation';

/** Generates a response for retrieved context (attempt 1) and for each requested regeneration. */
@Controller()
export class GeneratorEventsController {
  constructor(
    private readonly generation: ResponseGeneration,
    private readonly calls: ModelCallRecorder,
    private readonly drafts: DraftPublisher,
  ) {}

  @EventPattern(ContextRetrievedEvent.type)
  async retrieved(
    @Payload() event: EventEnvelope<ContextRetrieved>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const source = { ...event.data, tenantId: event.tenantid };
    const drafts = this.drafts.opener(event, event.data.requestId, 1, ctx.log);
    const generated = await this.generation.generate(source, 1, ctx.heartbeat, ctx.log, undefined, drafts);
    const record = await this.calls.record(generated, event, ctx.log);
    return [outgoing(ResponseGeneratedEvent, generated, { attempt: 1 }), ...record];
  }

  @EventPattern(RegenerationRequestedEvent.type)
  async regenerate(
    @Payload() event: EventEnvelope<RegenerationRequested>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const { attempt, violations, stricterInstruction } = event.data;
    const source = { ...event.data, tenantId: event.tenantid };
    const drafts = this.drafts.opener(event, event.data.requestId, attempt, ctx.log);
    const generated = await this.generation.generate(
      source,
      attempt,
      ctx.heartbeat,
      ctx.log,
      { attempt, violations, instruction: stricterInstruction },
      drafts,
    );
    const record = await this.calls.record(generated, event, ctx.log);
    return [outgoing(ResponseGeneratedEvent, generated, { attempt }), ...record];
  }
}
