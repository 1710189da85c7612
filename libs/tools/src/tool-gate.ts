import type { ToolResultCache } from './tool-result-cache';
import { canonicalDigest } from '@llmbus/contracts';
import { ToolError } from './errors';
import { ANY_TENANT, type ToolCall, type ToolDefinition, type ToolResult } from './tool-definition';
import type { ToolRegistry } from './tool-registry';
import {
  DEFAULT_TOOL_CLAIM_TTL_MS,
  ToolClaimUnavailableError,
  toolClaimKey,
  type ToolCallClaims,
} from './tool-call-claims';

/** What a workflow allows: `generate.tools` and `generate.maxToolRounds`. */
export interface ToolAllowlist {
  readonly tools: readonly string[];
  /** Model rounds with tool calls a request may take; calls in a later round are refused. */
  readonly maxToolRounds: number;
}

/** A model's requested call, in context: the workflow's allowlist, the tenant and the round (1-based). */
export interface ToolCallRequest {
  readonly call: ToolCall;
  readonly allowlist: ToolAllowlist;
  readonly tenant: string;
  readonly round: number;
}

/** Why a call was not executed; the model is told `reason`. */
export type ToolRefusalCode =
  | 'not_allowlisted'
  | 'unknown_tool'
  | 'tenant_not_permitted'
  | 'invalid_arguments'
  | 'too_many_rounds'
  | 'approval_mismatch';

/** The gate's verdict on a call, before anything runs. */
export type ToolDecision =
  | { readonly kind: 'execute'; readonly tool: ToolDefinition; readonly callHash: string }
  | {
      readonly kind: 'refused';
      readonly code: ToolRefusalCode;
      readonly reason: string;
      readonly problems: readonly string[];
    }
  | { readonly kind: 'needs_approval'; readonly tool: ToolDefinition; readonly callHash: string };

/**
 * The end of one call through the gate: refused or waiting (never ran), completed or failed (ran),
 * or `outcome_unknown`: a side-effecting call whose claim existed (it was started before and its
 * result never recorded), so it was not run again and may or may not have taken effect.
 */
export type ToolOutcome =
  | Extract<ToolDecision, { kind: 'refused' | 'needs_approval' }>
  | { readonly kind: 'completed'; readonly result: ToolResult; readonly callHash: string }
  | { readonly kind: 'failed'; readonly error: ToolError; readonly callHash: string }
  | { readonly kind: 'outcome_unknown'; readonly tool: ToolDefinition; readonly callHash: string };

/** Execution claims of side-effecting calls; see {@link ToolCallClaims}. */
export interface ToolGateClaims {
  readonly store: ToolCallClaims;
  /** How long a claim is kept, in milliseconds; default DEFAULT_TOOL_CLAIM_TTL_MS (7 days). */
  readonly ttlMs?: number;
  /** Prefix of every claim key, e.g. the deployment's topic prefix; default none. */
  readonly namespace?: string;
}

/**
 * A stable hash of the exact call: hex SHA-256 of the RFC 8785 canonical JSON of
 * `{tool, arguments}`. Key order and number spelling do not change it; any other difference does,
 * so an approval bound to this hash authorises that one call only. The call id is not part of it.
 */
export function toolCallHash(call: Pick<ToolCall, 'tool' | 'arguments'>): string {
  try {
    return canonicalDigest({ tool: call.tool, arguments: call.arguments });
  } catch {
    throw new Error(`tool call ${call.tool}: arguments cannot be canonicalised`);
  }
}

/**
 * Enforces, in code, what the prompt only asks for: a call runs only when its tool is declared, in
 * the workflow's allowlist, permitted for the tenant, within the round limit, and its arguments
 * match the tool's schema; a `high` risk call runs only with an approval bound to its exact hash.
 */
export class ToolGate {
  /**
   * `cache`: results of `cacheable` tools of risk `read`, keyed by tenant and call hash (never a
   * write or high-risk tool, never without a tenant). `claims`: when given, a `write` or `high`
   * call runs only after taking its call id's claim; without it, nothing stops a redelivered
   * call from running twice (tests and callers outside the loop).
   */
  constructor(
    private readonly registry: ToolRegistry,
    private readonly cache?: ToolResultCache,
    private readonly claims?: ToolGateClaims,
  ) {}

  /**
   * Outcomes of claimed calls this process ran, by claim key: a handling retried in this process
   * (a store blip after the call ran) is told what happened instead of `outcome_unknown`.
   */
  private readonly ran = new Map<string, Extract<ToolOutcome, { kind: 'completed' | 'failed' }>>();

  /** Decides without running anything. */
  decide(request: ToolCallRequest, approvedCallHash?: string): ToolDecision {
    const { call, allowlist, tenant, round } = request;
    if (round > allowlist.maxToolRounds) {
      return refuse(
        'too_many_rounds',
        `tool round ${round} exceeds this workflow's limit of ${allowlist.maxToolRounds}; answer with what you have`,
      );
    }
    if (!allowlist.tools.includes(call.tool)) {
      const allowed = allowlist.tools.length > 0 ? allowlist.tools.join(', ') : 'none';
      return refuse(
        'not_allowlisted',
        `tool ${call.tool} is not allowed in this workflow (allowed: ${allowed})`,
      );
    }
    const tool = this.registry.definition(call.tool);
    if (!tool) return refuse('unknown_tool', `tool ${call.tool} is not available`);
    if (!tool.tenants.includes(ANY_TENANT) && !tool.tenants.includes(tenant)) {
      return refuse('tenant_not_permitted', `tool ${call.tool} is not available to this tenant`);
    }
    if (call.argumentsError !== undefined) {
      return refuse(
        'invalid_arguments',
        `${call.argumentsError}; call ${call.tool} again with its arguments as one JSON object matching its schema`,
        [call.argumentsError],
      );
    }
    const problems = this.registry.argumentProblems(call.tool, call.arguments);
    if (problems.length > 0) {
      return refuse(
        'invalid_arguments',
        `arguments of ${call.tool} do not match its schema: ${problems.join('; ')}`,
        problems,
      );
    }
    const callHash = toolCallHash(call);
    if (tool.risk === 'high') {
      if (approvedCallHash === undefined) return { kind: 'needs_approval', tool, callHash };
      if (approvedCallHash !== callHash) {
        return refuse(
          'approval_mismatch',
          `the approval given is for a different call than this ${call.tool} call`,
        );
      }
    }
    return { kind: 'execute', tool, callHash };
  }

  /**
   * Decides, then runs the call only when the decision is `execute`. Tool failures are returned
   * as `failed` outcomes (not thrown) so the loop can tell the model; `signal` stops the run, and
   * a call it stopped rejects with the tool's error instead (it is no outcome to record).
   * A `write` or `high` call first takes its claim: when the claim exists the call is not run
   * (`outcome_unknown`) unless its tool declares `retryUncertain`; when the claim store cannot
   * answer, rejects with ToolClaimUnavailableError (retryable) and runs nothing.
   */
  async execute(
    request: ToolCallRequest,
    signal: AbortSignal,
    approvedCallHash?: string,
  ): Promise<ToolOutcome> {
    const decision = this.decide(request, approvedCallHash);
    if (decision.kind !== 'execute') return decision;
    const claimKey = this.claimKeyOf(request, decision.tool);
    if (claimKey !== undefined) {
      // A call this process ran already (a retried handling): its outcome is known, reuse it.
      const known = this.ran.get(claimKey);
      if (known !== undefined && known.callHash === decision.callHash) return known;
      if (!(await this.claimed(claimKey, request, decision.tool))) {
        return { kind: 'outcome_unknown', tool: decision.tool, callHash: decision.callHash };
      }
      const outcome = await this.run(request, decision, signal);
      this.remember(claimKey, outcome);
      return outcome;
    }
    return this.run(request, decision, signal);
  }

  private async run(
    request: ToolCallRequest,
    decision: Extract<ToolDecision, { kind: 'execute' }>,
    signal: AbortSignal,
  ): Promise<Extract<ToolOutcome, { kind: 'completed' | 'failed' }>> {
    const cacheKey =
      this.cache !== undefined &&
      decision.tool.cacheable &&
      decision.tool.risk === 'read' &&
      request.tenant !== ''
        ? `${encodeURIComponent(request.tenant)}:${decision.callHash}`
        : undefined;
    try {
      if (cacheKey !== undefined) {
        const hit = await this.cache?.get(cacheKey);
        if (hit !== undefined) {
          return {
            kind: 'completed',
            result: { ...hit, callId: request.call.id, cached: true },
            callHash: decision.callHash,
          };
        }
      }
      const result = await this.registry.run(request.call, signal, { tenant: request.tenant });
      if (cacheKey !== undefined) await this.cache?.set(cacheKey, result, decision.tool.cacheTtlMs ?? 60_000);
      return { kind: 'completed', result, callHash: decision.callHash };
    } catch (error) {
      // Stopped by the caller (the process is stopping), not a failure of the tool: nothing is
      // recorded, so the event is handled again (a side-effecting call then finds its claim).
      if (!(error instanceof ToolError) || signal.aborted) throw error;
      return { kind: 'failed', error, callHash: decision.callHash };
    }
  }

  /** The claim key of a side-effecting call; undefined for a read or a gate without claims. */
  private claimKeyOf(request: ToolCallRequest, tool: ToolDefinition): string | undefined {
    if (this.claims === undefined || tool.risk === 'read') return undefined;
    return toolClaimKey(this.claims.namespace ?? '', request.tenant, request.call.id);
  }

  /** Keeps the outcome of a claimed call this process ran (at most RAN_OUTCOMES, oldest dropped first). */
  private remember(key: string, outcome: Extract<ToolOutcome, { kind: 'completed' | 'failed' }>): void {
    this.ran.delete(key);
    this.ran.set(key, outcome);
    if (this.ran.size > RAN_OUTCOMES) {
      const oldest = this.ran.keys().next().value;
      if (oldest !== undefined) this.ran.delete(oldest);
    }
  }

  /** True when the call may run: this caller took its claim, or its tool may be re-sent with its key. */
  private async claimed(key: string, request: ToolCallRequest, tool: ToolDefinition): Promise<boolean> {
    if (this.claims === undefined) return true;
    let taken: boolean;
    try {
      taken = await this.claims.store.claim(key, this.claims.ttlMs ?? DEFAULT_TOOL_CLAIM_TTL_MS);
    } catch (error) {
      throw new ToolClaimUnavailableError(request.call.id, tool.name, error);
    }
    return taken || (tool.kind === 'http' && tool.retryUncertain === true);
  }
}

/** How many outcomes of claimed calls a gate keeps in memory for retried handlings. */
const RAN_OUTCOMES = 1000;

function refuse(code: ToolRefusalCode, reason: string, problems: readonly string[] = []): ToolDecision {
  return { kind: 'refused', code, reason, problems };
}
