import { EventBus } from '@llmbus/bus';
import { describeHttpApi, identityProviders, OPS_CONTROLLERS, type OpenApiInfo } from '@llmbus/http-nest';
import { WorkflowRegistry } from '@llmbus/workflows';
import { Module } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { AuditPrivacy } from './audit-privacy';
import { AUDIT_STORE } from './auditor-deps';
import { DeadLettersController } from './dead-letters.controller';
import { RequestsController } from './requests.controller';
import { ReviewsController } from './reviews.controller';
import { UsageController } from './usage.controller';

/** The auditor's HTTP controllers: the audit API, the review decisions and the operations endpoints. */
export const AUDITOR_HTTP_CONTROLLERS = [
  RequestsController,
  UsageController,
  ReviewsController,
  DeadLettersController,
  ...OPS_CONTROLLERS,
];

/** Title and description of the auditor's OpenAPI document. */
export const AUDITOR_OPENAPI_INFO: OpenApiInfo = {
  title: 'llmbus auditor',
  description:
    "Audit API: a request's trail, the request list, costs and usage, the review queue and review decisions. The tenant always comes from the credentials.",
};

@Module({})
class AuditorHttpApi {}

/** The auditor's OpenAPI document, generated from its controllers (checked in as contracts/openapi/auditor.json). */
export function auditorOpenApiDocument(): Promise<OpenAPIObject> {
  return describeHttpApi(
    {
      module: AuditorHttpApi,
      controllers: AUDITOR_HTTP_CONTROLLERS,
      // Preview mode resolves the graph without instantiating it: these are named, never built.
      providers: [
        { provide: AUDIT_STORE, useValue: null },
        { provide: EventBus, useValue: null },
        { provide: AuditPrivacy, useValue: null },
        { provide: WorkflowRegistry, useValue: null },
        ...identityProviders(undefined, undefined),
      ],
    },
    AUDITOR_OPENAPI_INFO,
  );
}
