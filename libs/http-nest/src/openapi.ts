import type { DynamicModule, INestApplication } from '@nestjs/common';
import { applyDecorators } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiUnauthorizedResponse,
  DocumentBuilder,
  SwaggerModule,
  type OpenAPIObject,
} from '@nestjs/swagger';
import type { Role } from '@llmbus/access';

/** Where every stage with an HTTP surface serves its OpenAPI document, without a key. */
export const OPENAPI_PATH = '/openapi.json';

/** Name of the `X-Api-Key` security scheme in the documents. */
export const API_KEY_SCHEME = 'apiKey';
/** Name of the bearer security scheme (an API key or, with OIDC, a JWT) in the documents. */
export const BEARER_SCHEME = 'bearer';

/**
 * The body of every refusal: Nest's `{statusCode, message, error}` shape, where `error` is a
 * machine-readable code (`invalid_request`, `payload_too_large`, `invalid_api_key`, ...) or the
 * HTTP reason phrase, and `message` says what to fix.
 */
export class ErrorBody {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({ example: 'invalid_request', description: 'A machine-readable code, or the HTTP reason' })
  error!: string;
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    description: 'What is wrong and what to fix',
  })
  message!: string | string[];
  @ApiPropertyOptional({
    type: [String],
    description: 'One entry per invalid field (validation errors)',
  })
  details?: string[];
}

/**
 * Documents a guarded route: either security scheme, the role it needs, and the refusals the
 * guard answers (401 without valid credentials, 403 without the role, 503 when the identity
 * provider cannot be reached).
 */
export function ApiAuthenticated(role: Role): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiSecurity(API_KEY_SCHEME),
    ApiBearerAuth(BEARER_SCHEME),
    ApiUnauthorizedResponse({ type: ErrorBody, description: 'Missing, unknown or invalid credentials' }),
    ApiForbiddenResponse({ type: ErrorBody, description: `The credentials lack the "${role}" role` }),
    ApiServiceUnavailableResponse({
      type: ErrorBody,
      description: 'The identity provider (OIDC) or a store the route needs cannot be reached',
    }),
  );
}

/** Title and description of a stage's HTTP surface in its OpenAPI document. */
export interface OpenApiInfo {
  readonly title: string;
  readonly description: string;
}

/**
 * The OpenAPI 3 document of an application's HTTP routes, generated from its controllers and DTO
 * decorators (`@nestjs/swagger`), with the two credential schemes of the README's Identity
 * section. Deterministic for a given set of controllers: the checked-in documents are compared
 * byte for byte.
 */
export function buildOpenApiDocument(app: INestApplication, info: OpenApiInfo): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.0.3')
    .setTitle(info.title)
    .setDescription(info.description)
    .setVersion('v1')
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-Api-Key',
        description: 'An API key from API_KEYS (`<key>:<tenant>:<roles>`); its tenant scopes every call',
      },
      API_KEY_SCHEME,
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'API key or JWT',
        description: '`Authorization: Bearer <API key>`, or, when OIDC_ISSUER is set, a JWT of that issuer',
      },
      BEARER_SCHEME,
    )
    .build();
  return SwaggerModule.createDocument(app, config);
}

/**
 * The OpenAPI document of a module's HTTP controllers without running them: Nest's preview mode
 * builds the module graph but instantiates no provider, so the stores, bus and keys the
 * controllers need are not required. What `npm run openapi:generate` writes.
 */
export async function describeHttpApi(module: DynamicModule, info: OpenApiInfo): Promise<OpenAPIObject> {
  const app = await NestFactory.create(module, { preview: true, logger: false, abortOnError: false });
  try {
    return buildOpenApiDocument(app, info);
  } finally {
    await app.close();
  }
}

/** The document as it is checked in and served: two-space JSON ending with a newline. */
export function formatOpenApiDocument(document: OpenAPIObject): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Serves the document at OPENAPI_PATH with no key: it describes routes, not data, and is the same
 * document that is checked in. Call before `listen`.
 */
export function serveOpenApiDocument(app: INestApplication, document: OpenAPIObject): void {
  const body = formatOpenApiDocument(document);
  app
    .getHttpAdapter()
    .get(OPENAPI_PATH, (_request: unknown, response: { type(t: string): { send(b: string): void } }) =>
      response.type('application/json').send(body),
    );
}
