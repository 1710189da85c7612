import { EventBus, InMemoryTransport, outgoing, type DedupStore, type OutgoingRecord } from '@llmbus/bus';
import { loadPlatformConfig } from '@llmbus/config';
import {
  ContextRetrieved,
  ContextRetrievedEvent,
  ModelCallRecorded,
  ModelCallRecordedEvent,
  ResponseGenerated,
  ResponseGeneratedEvent,
} from '@llmbus/contracts';
import {
  FallbackModelProvider,
  ModelError,
  ModelRegistry,
  ScriptedModelProvider,
  type ModelEntry,
} from '@llmbus/models';
import pino from 'pino';
import { startGenerator } from './index';

const logger = pino({ level: 'silent' });
const config = loadPlatformConfig({}, { mode: 'embedded', httpPort: 0, clientId: 't' });
const output = {
  category: 'technical',
  priority: 'normal',
  reply: 'Restart the app.',
  citations: [],
  needsHuman: false,
  confidence: 0.7,
};
const retrieved: ContextRetrieved = {
  requestId: 'r-redelivered',
  context: {
    workflow: { id: 'support-ticket', version: 1 },
    requester: { groups: [] },
    modelTier: 'small',
    budget: { maxOutputTokens: 200, maxCostUsd: 1 },
  },
  input: { subject: 'App crashes', body: 'It crashes on start.' },
  passages: [],
  withheldCount: 0,
};

/** The generator group remembers nothing: each delivery is what a replica that never saw it gets. */
const forgetful: DedupStore = { has: async () => false, add: async () => undefined };

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('generator model call records', () => {
  it('records each billed call under its own id, also when a redelivered input makes the call again', async () => {
    const bus = new EventBus(new InMemoryTransport(), { logger, dedup: forgetful });
    const produced: OutgoingRecord[] = [];
    const produce = bus.transport.produce.bind(bus.transport);
    jest.spyOn(bus.transport, 'produce').mockImplementation(async (records) => {
      produced.push(...records);
      await produce(records);
    });
    const model = new ScriptedModelProvider().enqueueChat(
      { json: output, usage: { promptTokens: 100, completionTokens: 20, costUsd: 0.01 } },
      { json: output, usage: { promptTokens: 100, completionTokens: 25, costUsd: 0.012 } },
    );
    const app = await startGenerator({ bus, config, logger, models: model });
    try {
      // The same input twice, as after a rebalance hands an uncommitted message to another member.
      const input = outgoing(ContextRetrievedEvent, retrieved, { tenantId: 'acme', id: 'retrieved-1' });
      await bus.publish([input]);
      await bus.publish([input]);
      const ofType = (type: string) => produced.filter((r) => r.headers['ce_type'] === type);
      await until(() => ofType(ModelCallRecordedEvent.type).length === 2);

      expect(model.chatCalls).toHaveLength(2);
      const outputs = ofType(ResponseGeneratedEvent.type);
      const calls = ofType(ModelCallRecordedEvent.type);
      // The repeated output keeps its derived id, so validation and the trail keep one of them...
      expect(outputs.map((r) => r.headers['ce_id'])).toEqual([
        outputs[0].headers['ce_id'],
        outputs[0].headers['ce_id'],
      ]);
      // ...while each call's record has an id of its own, carrying that call's usage.
      const records = calls.map((r) => JSON.parse(String(r.value)) as ModelCallRecorded);
      expect(new Set(calls.map((r) => r.headers['ce_id'])).size).toBe(2);
      expect(calls.map((r) => r.headers['ce_id'])).toEqual(records.map((c) => c.callId));
      expect(
        records.map((c) => [c.requestId, c.stage, c.attempt, c.usage.completionTokens, c.usage.costUsd]),
      ).toEqual([
        ['r-redelivered', 'generator', 1, 20, 0.01],
        ['r-redelivered', 'generator', 1, 25, 0.012],
      ]);
      // Each output names the call that produced it, and the record is out before the output.
      expect(outputs.map((r) => (JSON.parse(String(r.value)) as ResponseGenerated).callId)).toEqual(
        records.map((c) => c.callId),
      );
      expect(
        produced
          .map((r) => r.headers['ce_type'])
          .filter((t) => t === ModelCallRecordedEvent.type || t === ResponseGeneratedEvent.type),
      ).toEqual([
        ModelCallRecordedEvent.type,
        ResponseGeneratedEvent.type,
        ModelCallRecordedEvent.type,
        ResponseGeneratedEvent.type,
      ]);
    } finally {
      await app.close();
      await bus.close();
    }
  });

  it('records the billed usage of an answer that could not be parsed, on the record and on ResponseGenerated', async () => {
    const bus = new EventBus(new InMemoryTransport(), { logger, dedup: forgetful });
    const produced: OutgoingRecord[] = [];
    const produce = bus.transport.produce.bind(bus.transport);
    jest.spyOn(bus.transport, 'produce').mockImplementation(async (records) => {
      produced.push(...records);
      await produce(records);
    });
    const model = new ScriptedModelProvider().enqueueChat({
      text: 'Sure! The category is technical.',
      usage: { promptTokens: 350, completionTokens: 12, costUsd: 0.0004 },
    });
    const app = await startGenerator({ bus, config, logger, models: model });
    try {
      await bus.publish([
        outgoing(ContextRetrievedEvent, retrieved, { tenantId: 'acme', id: 'retrieved-3' }),
      ]);
      const ofType = (type: string) => produced.filter((r) => r.headers['ce_type'] === type);
      await until(() => ofType(ResponseGeneratedEvent.type).length === 1);
      const [record] = ofType(ModelCallRecordedEvent.type).map(
        (r) => JSON.parse(String(r.value)) as ModelCallRecorded,
      );
      const [generated] = ofType(ResponseGeneratedEvent.type).map(
        (r) => JSON.parse(String(r.value)) as ResponseGenerated,
      );
      expect(generated.output).toBeUndefined();
      expect(record.usage).toMatchObject({ promptTokens: 350, completionTokens: 12, costUsd: 0.0004 });
      expect(generated.usage).toEqual(record.usage);
    } finally {
      await app.close();
      await bus.close();
    }
  });

  it('sends the record with the outputs when it cannot be published at once, instead of calling the model again', async () => {
    const bus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1 });
    const produce = bus.transport.produce.bind(bus.transport);
    const batches: string[][] = [];
    let refused = false;
    jest.spyOn(bus.transport, 'produce').mockImplementation(async (records) => {
      const types = records.map((r) => r.headers['ce_type']);
      if (!refused && types.includes(ModelCallRecordedEvent.type)) {
        refused = true;
        throw new Error('broker briefly unavailable');
      }
      batches.push(types);
      await produce(records);
    });
    const model = new ScriptedModelProvider().enqueueChat({ json: output });
    const app = await startGenerator({ bus, config, logger, models: model });
    try {
      await bus.publish([
        outgoing(ContextRetrievedEvent, retrieved, { tenantId: 'acme', id: 'retrieved-2' }),
      ]);
      await until(() => batches.some((b) => b.includes(ModelCallRecordedEvent.type)));
      expect(model.chatCalls).toHaveLength(1);
      expect(batches.find((b) => b.includes(ModelCallRecordedEvent.type))).toEqual([
        ResponseGeneratedEvent.type,
        ModelCallRecordedEvent.type,
      ]);
    } finally {
      await app.close();
      await bus.close();
    }
  });

  it('puts the failed fallback attempts in the trail: ResponseGenerated usage and ModelCallRecorded', async () => {
    const bus = new EventBus(new InMemoryTransport(), { logger, dedup: forgetful });
    const produced: OutgoingRecord[] = [];
    const produce = bus.transport.produce.bind(bus.transport);
    jest.spyOn(bus.transport, 'produce').mockImplementation(async (records) => {
      produced.push(...records);
      await produce(records);
    });
    const entry = (id: string, fallbacks?: string[]): ModelEntry => ({
      id,
      provider: 'openai',
      model: id,
      contextWindow: 8192,
      pricePer1MInputUsd: 1,
      pricePer1MOutputUsd: 1,
      capabilities: ['chat', 'json'],
      tier: 'small',
      ...(fallbacks && { fallbacks }),
    });
    const registry = ModelRegistry.fromEntries([
      entry('hosted/large', ['local/small']),
      entry('local/small'),
    ]);
    const hosted = new ScriptedModelProvider().enqueueChat(new ModelError('unavailable', 'hosted: 503'));
    const local = new ScriptedModelProvider().enqueueChat({ json: output, usage: { promptTokens: 50 } });
    const models = new FallbackModelProvider({
      registry,
      providerFor: (e) => (e.id === 'hosted/large' ? hosted : local),
      defaultChatModel: registry.get('hosted/large'),
    });
    const app = await startGenerator({
      bus,
      config,
      logger,
      models,
      selectModel: () => ({ modelId: 'hosted/large', contextWindow: 8192 }),
    });
    try {
      await bus.publish([
        outgoing(ContextRetrievedEvent, retrieved, { tenantId: 'acme', id: 'retrieved-fb' }),
      ]);
      const ofType = (type: string) => produced.filter((r) => r.headers['ce_type'] === type);
      await until(() => ofType(ModelCallRecordedEvent.type).length === 1);
      const attempts = [
        {
          modelId: 'hosted/large',
          provider: 'scripted',
          code: 'unavailable',
          latencyMs: expect.any(Number),
          message: 'hosted: 503',
        },
      ];
      const generated = JSON.parse(String(ofType(ResponseGeneratedEvent.type)[0].value)) as ResponseGenerated;
      expect(generated.usage).toMatchObject({ modelId: 'local/small', fallbackAttempts: attempts });
      const record = JSON.parse(String(ofType(ModelCallRecordedEvent.type)[0].value)) as ModelCallRecorded;
      expect(record.usage).toMatchObject({ modelId: 'local/small', fallbackAttempts: attempts });
    } finally {
      await app.close();
      await bus.close();
    }
  });
});
