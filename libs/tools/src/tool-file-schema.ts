import { TOOL_RISKS } from './tool-definition';

const NAME = '^[a-z][a-z0-9_]{0,63}$';
const SERVER = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

const common = {
  name: { type: 'string', pattern: NAME },
  kind: { enum: ['builtin', 'http', 'mcp'] },
  description: { type: 'string', minLength: 1, maxLength: 1000 },
  risk: { enum: TOOL_RISKS },
  tenants: {
    type: 'array',
    minItems: 1,
    uniqueItems: true,
    items: { type: 'string', minLength: 1, maxLength: 128 },
  },
  timeoutMs: { type: 'integer', minimum: 1, maximum: 600_000 },
  maxResultBytes: { type: 'integer', minimum: 1, maximum: 1_048_576 },
  cacheable: { type: 'boolean' },
  cacheTtlMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
};

const toolShape = (kind: string, extra: Record<string, unknown>, required: string[]) => ({
  if: { properties: { kind: { const: kind } } },
  then: {
    additionalProperties: false,
    required,
    properties: { ...common, ...extra },
  },
});

// if/then per kind rather than oneOf: ajv then reports only the failing kind's errors.
const tool = {
  type: 'object',
  required: ['name', 'kind', 'risk', 'tenants', 'timeoutMs', 'maxResultBytes'],
  properties: { kind: common.kind },
  allOf: [
    toolShape('builtin', {}, []),
    toolShape(
      'http',
      {
        url: { type: 'string', minLength: 1, maxLength: 2000 },
        arguments: { type: 'object' },
        headers: { type: 'object', additionalProperties: { type: 'string' } },
        retryUncertain: { type: 'boolean' },
      },
      ['description', 'url', 'arguments'],
    ),
    toolShape(
      'mcp',
      {
        server: { type: 'string', pattern: SERVER },
        serverTool: { type: 'string', minLength: 1, maxLength: 128 },
      },
      ['server'],
    ),
  ],
};

const mcpServer = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'transport'],
  properties: {
    name: { type: 'string', pattern: SERVER },
    transport: {
      type: 'object',
      required: ['type'],
      properties: { type: { enum: ['stdio', 'http'] } },
      allOf: [
        {
          if: { properties: { type: { const: 'stdio' } } },
          then: {
            additionalProperties: false,
            required: ['command'],
            properties: {
              type: { const: 'stdio' },
              command: { type: 'string', minLength: 1 },
              args: { type: 'array', items: { type: 'string' } },
              cwd: { type: 'string', minLength: 1 },
              env: { type: 'object', additionalProperties: { type: 'string' } },
            },
          },
        },
        {
          if: { properties: { type: { const: 'http' } } },
          then: {
            additionalProperties: false,
            required: ['url'],
            properties: { type: { const: 'http' }, url: { type: 'string', minLength: 1 } },
          },
        },
      ],
    },
  },
};

/** JSON Schema of a tool file; ajv checks every file against it at load. */
export const TOOL_FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['tools'],
  properties: {
    httpHosts: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', pattern: '^[A-Za-z0-9.-]+(:[0-9]{1,5})?$' },
    },
    mcpServers: { type: 'array', items: mcpServer },
    tools: { type: 'array', minItems: 1, items: tool },
  },
};
