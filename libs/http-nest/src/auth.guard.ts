import {
  ApiKeyRegistry,
  AuthenticationError,
  Authenticator,
  BearerTokenVerifier,
  hasRole,
  IdentityProviderUnavailableError,
  OidcSettings,
  OidcTokenVerifier,
  Principal,
  Role,
} from '@llmbus/access';
import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  Optional,
  Provider,
  ServiceUnavailableException,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';

/** DI token of the ApiKeyRegistry the guard checks keys against. */
export const API_KEY_REGISTRY = Symbol('API_KEY_REGISTRY');
/** DI token of the BearerTokenVerifier for JWTs; without it only API keys are accepted. */
export const BEARER_TOKEN_VERIFIER = Symbol('BEARER_TOKEN_VERIFIER');

const ROLE_KEY = 'llmbus:required-role';

/** Marks a route as requiring a role; routes without it still need valid credentials. */
export const RequireRole = (role: Role) => SetMetadata(ROLE_KEY, role);

type AuthenticatedRequest = Request & { principal?: Principal };

/** The authenticated caller of the current request. */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new UnauthorizedException('no authenticated principal');
  return principal;
});

/** The principal the guard attached to a request, for request logs (its id, never a credential). */
export function principalOf(request: unknown): Principal | undefined {
  return (request as AuthenticatedRequest).principal;
}

function single(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}

/**
 * Every HTTP route it guards needs credentials: an API key (`X-Api-Key: <key>` or
 * `Authorization: Bearer <key>`) or, when OIDC is configured, a bearer JWT. The principal's tenant
 * scopes everything the caller can see or do; a route's required role answers 403 when missing.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly authenticator: Authenticator;

  constructor(
    @Inject(API_KEY_REGISTRY) registry: ApiKeyRegistry,
    private readonly reflector: Reflector,
    @Optional() @Inject(BEARER_TOKEN_VERIFIER) tokens?: BearerTokenVerifier,
  ) {
    this.authenticator = new Authenticator(registry, tokens);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const bearer = single(request.headers.authorization)?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    let principal: Principal;
    try {
      principal = await this.authenticator.authenticate({
        apiKey: single(request.headers['x-api-key']),
        bearer,
      });
    } catch (error) {
      if (error instanceof AuthenticationError) {
        if (this.authenticator.acceptsTokens) {
          // RFC 6750 §3: tell bearer clients why; the description never holds credential material.
          context
            .switchToHttp()
            .getResponse<Response>()
            .setHeader(
              'WWW-Authenticate',
              `Bearer error="invalid_token", error_description="${error.message.replace(/["\\]/g, "'")}"`,
            );
        }
        throw new UnauthorizedException({ statusCode: 401, error: error.code, message: error.message });
      }
      if (error instanceof IdentityProviderUnavailableError) {
        throw new ServiceUnavailableException(
          { statusCode: 503, error: error.code, message: error.message },
          { cause: error.cause },
        );
      }
      throw error;
    }
    request.principal = principal;
    const role = this.reflector.getAllAndOverride<Role | undefined>(ROLE_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (role && !hasRole(principal, role)) {
      throw new ForbiddenException({
        statusCode: 403,
        error: 'forbidden_role',
        message: `this ${principal.kind === 'jwt' ? 'token' : 'API key'} (${principal.id}) lacks the "${role}" role`,
        role,
      });
    }
    return true;
  }
}

/**
 * The providers the guard needs: the API key registry (empty when none is configured: every key
 * is then refused) and, with OIDC settings, a verifier for bearer JWTs.
 */
export function identityProviders(
  apiKeys: ApiKeyRegistry | undefined,
  oidc: OidcSettings | undefined,
): Provider[] {
  return [
    { provide: API_KEY_REGISTRY, useValue: apiKeys ?? ApiKeyRegistry.parse('') },
    ...(oidc ? [{ provide: BEARER_TOKEN_VERIFIER, useValue: new OidcTokenVerifier(oidc) }] : []),
  ];
}
