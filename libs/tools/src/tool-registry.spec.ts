import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { BuiltinToolAdapter } from './builtin-tools';
import type { ToolDefinition } from './tool-definition';
import { ToolRegistry } from './tool-registry';

// One `execute_tool <tool>` span per call after the OpenTelemetry GenAI conventions, a child of
// the span the call runs under (the stage's handling), never carrying the arguments or result.
describe('ToolRegistry.run spans (GenAI execute_tool)', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  const definition: ToolDefinition = {
    name: 'restart_service',
    description: 'restarts a service',
    kind: 'builtin',
    argumentsSchema: { type: 'object', properties: { service: { type: 'string' } } },
    maxResultBytes: 8192,
    timeoutMs: 2000,
    risk: 'high',
    tenants: ['*'],
    cacheable: false,
  };
  const registry = (run: () => Promise<unknown>) =>
    new ToolRegistry().add(
      definition,
      new BuiltinToolAdapter().register({
        name: 'restart_service',
        description: 'd',
        argumentsSchema: definition.argumentsSchema,
        run,
      }),
    );
  const call = { id: 'call-7', tool: 'restart_service', arguments: { service: 'secret-payments' } };

  it('records one span per call with the tool, call id and origin, as a child of the current span', async () => {
    const tools = registry(() => Promise.resolve({ restarted: 'secret-payments' }));
    await trace.getTracer('test').startActiveSpan('process orchestration.tools.v1', async (parent) => {
      await tools.run(call, new AbortController().signal);
      parent.end();
    });
    const spans = exporter.getFinishedSpans();
    const parent = spans.find((s) => s.name === 'process orchestration.tools.v1')!;
    const tool = spans.filter((s) => s.name === 'execute_tool restart_service');
    expect(tool).toHaveLength(1);
    expect(tool[0].parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(tool[0].spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(tool[0].attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'restart_service',
      'gen_ai.tool.call.id': 'call-7',
      'gen_ai.tool.type': 'builtin',
    });
    expect(tool[0].status.code).not.toBe(2);
    expect(JSON.stringify(tool[0].attributes)).not.toContain('secret-payments');
  });

  it('marks a failed call with error.type set to the ToolError code', async () => {
    const tools = registry(() => Promise.reject(new Error('the service is down')));
    await expect(tools.run(call, new AbortController().signal)).rejects.toThrow();
    const [span] = exporter.getFinishedSpans();
    expect(span.name).toBe('execute_tool restart_service');
    expect(span.status.code).toBe(2);
    expect(typeof span.attributes['error.type']).toBe('string');
  });
});
