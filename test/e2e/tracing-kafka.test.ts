// One request through five service processes on Kafka, traced with OpenTelemetry into an
// in-test OTLP/HTTP receiver: the spans of router, retriever, generator and validator form one
// trace, linked through the events' ce_traceparent after the messaging conventions, with the
// model call described by the GenAI conventions. The support workflow runs on the large tier, an
// OpenAI-compatible node:http server in this test that answers at once with a scripted answer (it
// is not a model), so the trace does not wait on a local model on a busy machine; retrieval uses
// the local embedding model.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContextRetrievedEvent,
  DocumentIndexedEvent,
  DocumentSubmittedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
  Topics,
} from '@llmbus/contracts';
import { loadModelRegistry } from '@llmbus/models';
import { loadSampleDocuments } from '@llmbus/svc-embedded';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { ceHeaders, dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';
import { workflowsWithoutConfidence } from '../support/workflows-fixture';

jest.setTimeout(600_000);

const TENANT = 'e2e-trace';
const PRODUCER = 4;
const CONSUMER = 5;
const CLIENT = 3;

/** An OpenAI-compatible chat endpoint answering every call at once with one scripted support answer. */
class ScriptedEndpoint {
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const prompt = (body['messages'] as { content: string }[]).map((m) => m.content).join('\n');
      const citations = [...prompt.matchAll(/<passage id="([^"]+)"/g)].map((m) => m[1]).slice(0, 1);
      const content = JSON.stringify({
        category: 'account',
        priority: 'high',
        reply: 'Check your spam folder, then request a new reset link from the sign-in page.',
        citations,
        needsHuman: false,
        confidence: 0.9,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: `chatcmpl-${randomBytes(4).toString('hex')}`,
          object: 'chat.completion',
          created: 0,
          model: body['model'],
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 600, completion_tokens: 60, total_tokens: 660 },
        }),
      );
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The shipped workflows with the support workflow on the large tier (the scripted endpoint). */
function largeTierWorkflows(): string {
  const dir = workflowsWithoutConfidence();
  const file = join(dir, 'support-ticket.v1.yaml');
  const support = parseYaml(readFileSync(file, 'utf8')) as { model: Record<string, unknown> };
  writeFileSync(file, stringifyYaml({ ...support, model: { ...support.model, tier: 'large' } }));
  return dir;
}

describe('tracing: five service processes export one linked trace per request', () => {
  const receiver = new OtlpReceiver();
  const endpoint = new ScriptedEndpoint();
  let pipeline: Pipeline;

  beforeAll(async () => {
    await receiver.start();
    const url = await endpoint.start();
    const registryPath = join(mkdtempSync(join(tmpdir(), 'llmbus-registry-')), 'models.registry.json');
    const large = {
      id: 'e2e/large',
      provider: 'openai',
      model: 'e2e-large',
      baseURL: url,
      apiKeyEnv: 'E2E_LARGE_API_KEY',
      contextWindow: 128_000,
      pricePer1MInputUsd: 2.5,
      pricePer1MOutputUsd: 10,
      capabilities: ['chat', 'json'],
      tier: 'large',
    };
    writeFileSync(registryPath, JSON.stringify({ models: [...loadModelRegistry().entries, large] }));
    pipeline = new Pipeline('e2e-tracing', {
      tenant: TENANT,
      tapTopics: [Topics.DocumentIndexed.name],
      env: {
        LLMBUS_MODEL_PROVIDER: 'registry',
        LLMBUS_MODELS_REGISTRY: registryPath,
        E2E_LARGE_API_KEY: 'e2e-not-a-real-key',
        OPENAI_API_KEY: '',
        LLMBUS_WORKFLOWS_DIR: largeTierWorkflows(),
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        // Export every 100 ms, so the test waits for spans rather than for the default 5 s batch.
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
    });
    await pipeline.start();
    const { documents } = loadSampleDocuments(join(__dirname, '..', '..', 'samples', 'documents'));
    for (const doc of documents) {
      await pipeline.send(
        Topics.DocumentIngest.name,
        doc.documentId,
        ceHeaders(DocumentSubmittedEvent.type, doc.documentId, TENANT),
        JSON.stringify(doc),
      );
    }
    for (const doc of documents) {
      await pipeline.tap.waitFor(
        (m) => m.headers['ce_type'] === DocumentIndexedEvent.type && m.key === doc.documentId,
        180_000,
        `DocumentIndexed for ${doc.documentId}`,
      );
    }
  });

  afterAll(async () => {
    await pipeline?.stop();
    await endpoint.stop();
    await receiver.stop();
  });
  afterEach(() => dumpOutputOnFailure(pipeline));

  it('links router, retriever, generator (GenAI attributes) and validator spans in one trace', async () => {
    const requestId = `traced-${randomBytes(4).toString('hex')}`;
    await pipeline.send(
      Topics.Request.name,
      requestId,
      ceHeaders(RequestSubmittedEvent.type, requestId, TENANT),
      JSON.stringify({
        requestId,
        eventType: 'ticket.created',
        input: {
          subject: 'Password reset email never arrives',
          body: 'I clicked Forgot password twice but no email came. How do I get into my account?',
          priority: 'high',
          product: 'Acme Sync',
        },
        requester: { userId: 'helpdesk-bot', groups: [] },
      }),
    );

    const handled = (spans: readonly ReceivedSpan[], service: string, type: string) =>
      spans.find(
        (s) =>
          s.service === `llmbus-${service}` &&
          s.kind === CONSUMER &&
          s.attributes['messaging.message.conversation_id'] === requestId &&
          s.attributes['cloudevents.event_type'] === type,
      );
    // A handling may try more than once (a model call that timed out is retried): the one that succeeded.
    const childOf = (spans: readonly ReceivedSpan[], parent: ReceivedSpan, name: RegExp) =>
      spans.find((s) => s.parentSpanId === parent.spanId && name.test(s.name) && s.statusCode !== 2);

    const found = await receiver
      .waitFor(
        (spans) => {
          const router = handled(spans, 'router', RequestSubmittedEvent.type);
          const retriever = handled(spans, 'retriever', RequestRoutedEvent.type);
          const generator = handled(spans, 'generator', ContextRetrievedEvent.type);
          const validator = handled(spans, 'validator', ResponseGeneratedEvent.type);
          if (!router || !retriever || !generator || !validator) return undefined;
          const retrieval = childOf(spans, retriever, /^retrieval /);
          const chat = childOf(spans, generator, /^chat /);
          const validation = childOf(spans, validator, /^validate /);
          if (!retrieval || !chat || !validation) return undefined;
          return { router, retriever, generator, validator, retrieval, chat, validation };
        },
        300_000,
        `the spans of ${requestId}`,
      )
      .catch((error: unknown) => {
        pipeline.dumpOutput();
        throw error;
      });
    const { router, retriever, generator, validator, retrieval, chat, validation } = found;

    // One trace: everything done for the request shares the trace id of its first handling.
    // The one exception: the upstream event came without a traceparent, so each consumer group
    // reading it (the router's, the auditor's) starts a trace of its own; the router's is the request's.
    const traceId = router.traceId;
    const ofRequest = receiver.spans.filter(
      (s) =>
        s.attributes['messaging.message.conversation_id'] === requestId &&
        !(s.kind === CONSUMER && s.attributes['cloudevents.event_type'] === RequestSubmittedEvent.type),
    );
    const outside = ofRequest.filter((s) => s.traceId !== traceId).map((s) => `${s.service}: ${s.name}`);
    expect(outside).toEqual([]);
    expect(ofRequest.some((s) => s.service === 'llmbus-auditor')).toBe(true);
    for (const span of [retrieval, chat, validation]) expect(span.traceId).toBe(traceId);
    // The upstream producer sent no traceparent: the router's handling starts the trace.
    expect(router.parentSpanId).toBe('');

    // Each stage's handling is a child of the send span that published its input, one service up.
    const sendOf = (consumer: ReceivedSpan) =>
      receiver.spans.find((s) => s.spanId === consumer.parentSpanId && s.kind === PRODUCER);
    expect(sendOf(retriever)).toMatchObject({ service: 'llmbus-router', parentSpanId: router.spanId });
    expect(sendOf(generator)).toMatchObject({ service: 'llmbus-retriever', parentSpanId: retriever.spanId });
    expect(sendOf(validator)?.service).toBe('llmbus-generator');
    expect(sendOf(validator)?.parentSpanId).toBe(generator.spanId);

    // Messaging conventions on the consumer and producer spans.
    expect(retriever.name).toBe(`process ${pipeline.topic(Topics.Routed.name)}`);
    expect(retriever.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': pipeline.topic(Topics.Routed.name),
      'messaging.consumer.group.name': `${pipeline.prefix}llmbus.retriever`,
      'messaging.kafka.message.key': requestId,
    });
    expect(sendOf(retriever)!.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'send',
      'messaging.destination.name': pipeline.topic(Topics.Routed.name),
      'messaging.kafka.message.key': requestId,
    });

    // The model call after the GenAI conventions.
    expect(chat.kind).toBe(CLIENT);
    expect(chat.name).toBe('chat e2e/large');
    expect(chat.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'e2e/large',
      'gen_ai.response.model': 'e2e/large',
      'gen_ai.request.max_tokens': expect.any(Number),
      'gen_ai.output.type': 'json',
      'gen_ai.usage.input_tokens': 600,
      'gen_ai.usage.output_tokens': 60,
    });
    expect(retrieval.attributes).toMatchObject({ 'gen_ai.operation.name': 'retrieval' });
    expect(retrieval.attributes['llmbus.retrieval.passages']).toBeGreaterThan(0);
    expect(['accept', 'retry', 'review', 'fail']).toContain(
      validation.attributes['llmbus.validation.outcome'],
    );

    // Log lines written while handling carry the trace id (the retriever's "context retrieved" is at
    // info for every event; the validator logs an accepted generation at debug).
    expect(pipeline.service('retriever').output()).toContain(`"trace_id":"${traceId}"`);
  });
});
