import { describeHttpApi, identityProviders, OPS_CONTROLLERS, type OpenApiInfo } from '@llmbus/http-nest';
import { Module } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { RequestStreamController } from './request-stream.controller';
import { RequestsController } from './requests.controller';
import { RouterRuntime } from './router-runtime';

/** The router's HTTP controllers: the ingress and the operations endpoints. */
export const ROUTER_HTTP_CONTROLLERS = [RequestsController, RequestStreamController, ...OPS_CONTROLLERS];

/** Title and description of the router's OpenAPI document. */
export const ROUTER_OPENAPI_INFO: OpenApiInfo = {
  title: 'llmbus router',
  description:
    'HTTP ingress: submit a request to a workflow and read its status. The tenant always comes from the credentials.',
};

@Module({})
class RouterHttpApi {}

/** The router's OpenAPI document, generated from its controllers (checked in as contracts/openapi/router.json). */
export function routerOpenApiDocument(): Promise<OpenAPIObject> {
  // Preview mode resolves the graph without instantiating it: the runtime is named, never built.
  return describeHttpApi(
    {
      module: RouterHttpApi,
      controllers: ROUTER_HTTP_CONTROLLERS,
      providers: [{ provide: RouterRuntime, useValue: null }, ...identityProviders(undefined, undefined)],
    },
    ROUTER_OPENAPI_INFO,
  );
}
