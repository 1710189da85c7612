import SwaggerParser from '@apidevtools/swagger-parser';
import { formatOpenApiDocument } from '@llmbus/http-nest';
import { auditorOpenApiDocument } from '@llmbus/svc-auditor';
import { routerOpenApiDocument } from '@llmbus/svc-router';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = join(__dirname, '..', '..', 'contracts', 'openapi');
const SURFACES = { router: routerOpenApiDocument, auditor: auditorOpenApiDocument };
const checkedIn = (name: string) => readFileSync(join(DIR, `${name}.json`), 'utf8');

describe('OpenAPI documents', () => {
  it.each(Object.entries(SURFACES))(
    '%s: the checked-in document matches the controllers byte for byte (run `npm run openapi:generate` after changing a route or DTO)',
    async (name, describeSurface) => {
      expect(formatOpenApiDocument(await describeSurface())).toEqual(checkedIn(name));
    },
  );

  it('holds no stale document for a surface that no longer exists', () => {
    expect(readdirSync(DIR).sort()).toEqual(
      Object.keys(SURFACES)
        .map((name) => `${name}.json`)
        .sort(),
    );
  });

  it.each(Object.keys(SURFACES))('%s: the checked-in document is valid OpenAPI 3', async (name) => {
    await expect(SwaggerParser.validate(JSON.parse(checkedIn(name)))).resolves.toBeDefined();
  });

  it.each(Object.keys(SURFACES))(
    '%s: every route but /healthz accepts an X-Api-Key or a bearer credential and documents 401 and 403',
    (name) => {
      const document = JSON.parse(checkedIn(name)) as {
        paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
      };
      const guarded = Object.entries(document.paths).flatMap(([path, operations]) =>
        path === '/healthz' ? [] : Object.values(operations),
      );
      expect(guarded.length).toBeGreaterThan(1);
      for (const operation of guarded) {
        expect(operation.security).toEqual([{ apiKey: [] }, { bearer: [] }]);
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
      }
    },
  );
});
