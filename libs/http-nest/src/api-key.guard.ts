import { ApiKeyRegistry, hasRole, Principal, Role } from '@llmbus/access';
import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';

/** DI token of the ApiKeyRegistry the guard checks keys against. */
export const API_KEY_REGISTRY = Symbol('API_KEY_REGISTRY');

const ROLE_KEY = 'llmbus:required-role';

/** Marks a route as requiring a role; routes without it still need a valid key. */
export const RequireRole = (role: Role) => SetMetadata(ROLE_KEY, role);

type AuthenticatedRequest = Request & { principal?: Principal };

/** The authenticated caller of the current request. */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new UnauthorizedException('no authenticated principal');
  return principal;
});

/**
 * Every HTTP route needs an API key (`X-Api-Key: <key>` or `Authorization: Bearer <key>`); the
 * key's tenant scopes everything the caller can see or do.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    @Inject(API_KEY_REGISTRY) private readonly registry: ApiKeyRegistry,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers['x-api-key'];
    const bearer = request.headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
    const principal = this.registry.authenticate(typeof header === 'string' ? header : bearer);
    if (!principal) {
      throw new UnauthorizedException(
        'missing or unknown API key: send it as "X-Api-Key: <key>" or "Authorization: Bearer <key>"',
      );
    }
    const role = this.reflector.getAllAndOverride<Role | undefined>(ROLE_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (role && !hasRole(principal, role)) {
      throw new ForbiddenException(`this API key (${principal.keyId}) lacks the "${role}" role`);
    }
    request.principal = principal;
    return true;
  }
}
