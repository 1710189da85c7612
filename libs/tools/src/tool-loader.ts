import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { parseDocument } from 'yaml';
import { ToolConfigError } from './errors';
import type { McpTransportConfig } from './mcp-tool-adapter';
import type { JsonSchema, ToolKind, ToolRisk } from './tool-definition';
import { TOOL_FILE_SCHEMA } from './tool-file-schema';

/** The repository's `tools/` folder (this file sits in libs/tools/{src,dist}). */
export const DEFAULT_TOOLS_DIR = resolve(__dirname, '..', '..', '..', 'tools');

/** One tool as a file declares it; `source` names the file and `index` its place in `tools`. */
export interface ToolDeclaration {
  readonly name: string;
  readonly kind: ToolKind;
  readonly description?: string;
  readonly risk: ToolRisk;
  readonly tenants: readonly string[];
  readonly timeoutMs: number;
  readonly maxResultBytes: number;
  readonly cacheable?: boolean;
  readonly cacheTtlMs?: number;
  /** HTTP tools: endpoint (after `${VAR}` expansion), argument schema and extra headers. */
  readonly url?: string;
  readonly arguments?: JsonSchema;
  readonly headers?: Readonly<Record<string, string>>;
  /** HTTP tools: re-send a call whose outcome is unknown with the same `Idempotency-Key`. */
  readonly retryUncertain?: boolean;
  /** MCP tools: the server's name in `mcpServers` and the tool's name on it (default: `name`). */
  readonly server?: string;
  readonly serverTool?: string;
  readonly source: string;
  readonly index: number;
}

/** An MCP server a tool file declares. */
export interface McpServerDeclaration {
  readonly name: string;
  readonly transport: McpTransportConfig;
  readonly source: string;
}

/** Every tool file of a folder, merged and checked across files. */
export interface ToolConfiguration {
  readonly httpHosts: readonly string[];
  readonly mcpServers: readonly McpServerDeclaration[];
  readonly tools: readonly ToolDeclaration[];
}

interface ToolFileDocument {
  httpHosts?: string[];
  mcpServers?: { name: string; transport: McpTransportConfig }[];
  tools: Omit<ToolDeclaration, 'source' | 'index'>[];
}

const fileAjv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
addFormats(fileAjv);
const validateFile = fileAjv.compile(TOOL_FILE_SCHEMA);
const schemaAjv = new Ajv({
  allErrors: true,
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
});
addFormats(schemaAjv);
// `${VAR}` or `${VAR:-default}` (the default is used when VAR is unset or empty, as in POSIX sh).
const ENV_REFERENCE = /\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Parses and checks one tool file; `source` names the file in every error. `${VAR}` in HTTP tool
 * URLs and headers is replaced from `env`; an unset variable is an error naming the field, unless
 * the reference gives a default (`${VAR:-http://127.0.0.1:19180}`).
 */
export function parseToolDocument(
  text: string,
  source: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ToolConfiguration {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ToolConfigError(
      source,
      document.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0]}`),
    );
  }
  const plain: unknown = document.toJS();
  if (!validateFile(plain)) throw new ToolConfigError(source, describeFileErrors(validateFile.errors));
  const file = plain as unknown as ToolFileDocument;
  const problems: string[] = [];
  const tools = file.tools.map((tool, index): ToolDeclaration => {
    const at = `tools[${index}]`;
    if (tool.kind !== 'http') return { ...tool, source, index };
    const url = expand(tool.url ?? '', `${at}.url`, env, problems);
    const headers = Object.fromEntries(
      Object.entries(tool.headers ?? {}).map(([key, value]) => [
        key,
        expand(value, `${at}.headers.${key}`, env, problems),
      ]),
    );
    try {
      schemaAjv.compile({ ...tool.arguments });
    } catch (error) {
      problems.push(`${at}.arguments: not a valid JSON Schema (${(error as Error).message})`);
    }
    if (tool.arguments?.['type'] !== 'object') problems.push(`${at}.arguments.type: must be "object"`);
    return { ...tool, url, headers, source, index };
  });
  const httpHosts = (file.httpHosts ?? []).map((host) => host.toLowerCase());
  tools.forEach((tool) => {
    if (tool.kind !== 'http' || !tool.url) return;
    const at = `tools[${tool.index}].url`;
    let parsed: URL;
    try {
      parsed = new URL(tool.url);
    } catch {
      problems.push(`${at}: not a URL (${tool.url})`);
      return;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      problems.push(`${at}: must be http or https`);
    else if (
      !httpHosts.includes(parsed.host.toLowerCase()) &&
      !httpHosts.includes(parsed.hostname.toLowerCase())
    ) {
      problems.push(`${at}: host ${parsed.host} is not in httpHosts`);
    }
  });
  const servers = new Set((file.mcpServers ?? []).map((server) => server.name));
  tools.forEach((tool) => {
    if (tool.kind === 'mcp' && tool.server && !servers.has(tool.server)) {
      problems.push(`tools[${tool.index}].server: no MCP server named ${tool.server} in mcpServers`);
    }
  });
  problems.push(
    ...duplicates(
      tools.map((t) => t.name),
      (name) => `tools: ${name} is declared twice`,
    ),
  );
  problems.push(
    ...duplicates(
      [...(file.mcpServers ?? []).map((s) => s.name)],
      (name) => `mcpServers: ${name} is declared twice`,
    ),
  );
  if (problems.length > 0) throw new ToolConfigError(source, problems);
  return {
    httpHosts,
    mcpServers: (file.mcpServers ?? []).map((server) => ({ ...server, source })),
    tools,
  };
}

/**
 * Loads every `*.yaml` in a folder and merges them. Any bad file stops the load with an error
 * naming the file and the field; a tool or server declared in two files names both.
 */
export function loadToolDirectory(
  dir: string = DEFAULT_TOOLS_DIR,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ToolConfiguration {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort();
  } catch (error) {
    throw new ToolConfigError(dir, [`cannot read the tools folder (${(error as Error).message})`]);
  }
  const files = names.map((name) =>
    parseToolDocument(readFileSync(join(dir, name), 'utf8'), join(dir, name), env),
  );
  const tools = files.flatMap((file) => file.tools);
  const mcpServers = files.flatMap((file) => file.mcpServers);
  const seen = new Map<string, string>();
  for (const item of [
    ...tools.map((t) => ({ key: `tool ${t.name}`, source: t.source })),
    ...mcpServers.map((s) => ({ key: `MCP server ${s.name}`, source: s.source })),
  ]) {
    const first = seen.get(item.key);
    if (first !== undefined)
      throw new ToolConfigError(item.source, [`${item.key} is already declared in ${first}`]);
    seen.set(item.key, item.source);
  }
  return { httpHosts: [...new Set(files.flatMap((file) => file.httpHosts))], mcpServers, tools };
}

function expand(
  value: string,
  field: string,
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): string {
  return value.replace(ENV_REFERENCE, (_match, name: string, fallback: string | undefined) => {
    const found = env[name];
    if ((found === undefined || found === '') && fallback !== undefined) return fallback;
    if (found === undefined || found === '') {
      problems.push(`${field}: environment variable ${name} is not set`);
      return '';
    }
    return found;
  });
}

function duplicates(names: readonly string[], message: (name: string) => string): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const name of names) (seen.has(name) ? repeated : seen).add(name);
  return [...repeated].map(message);
}

function describeFileErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  const lines = (errors ?? [])
    .filter((error) => error.keyword !== 'if')
    .map((error) => {
      const path = instancePath(error.instancePath) || '(document)';
      const prefix = path === '(document)' ? '' : `${path}.`;
      switch (error.keyword) {
        case 'required':
          return `${prefix}${String(error.params['missingProperty'])}: is required`;
        case 'additionalProperties':
          if (
            error.params['additionalProperty'] === 'retryUncertain' &&
            /^\/tools\/\d+$/.test(error.instancePath)
          )
            return `${prefix}retryUncertain: only valid for http tools (it re-sends a call whose outcome is unknown with the same Idempotency-Key; builtin and mcp tools have no key)`;
          return `${prefix}${String(error.params['additionalProperty'])}: is not a known field`;
        case 'enum':
          return `${path}: must be one of ${(error.params['allowedValues'] as unknown[]).join(', ')}`;
        default:
          return `${path}: ${error.message ?? 'is invalid'}`;
      }
    });
  return [...new Set(lines)];
}

/** `/tools/0/risk` → `tools[0].risk`. */
function instancePath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(segment) ? `[${segment}]` : `${out === '' ? '' : '.'}${segment}`;
  }
  return out;
}
