import type { ModelUsage, ToolCallResult, ToolRound } from '@llmbus/contracts';
import type { ChatMessage } from '@llmbus/models';
import { renderToolResultBlock } from '@llmbus/tools';

/**
 * The recorded rounds as chat messages: per round the model's turn (its words and calls, by
 * derived call id) and one tool message per result. A tool's output is shown only inside its
 * delimited untrusted block, cut at the tool's cap (`maxResultBytes`, UTF-8 bytes); a call that
 * did not run is explained in the product's own words.
 */
export function roundMessages(
  rounds: readonly ToolRound[],
  maxResultBytes: (tool: string) => number,
): ChatMessage[] {
  return rounds.flatMap((round): ChatMessage[] => [
    {
      role: 'assistant',
      content: round.assistantText,
      toolCalls: round.calls.map((call) => ({ id: call.callId, name: call.tool, arguments: call.arguments })),
    },
    ...round.results.map((result): ChatMessage => ({
      role: 'tool',
      toolCallId: result.callId,
      name: result.tool,
      content: resultText(result, maxResultBytes(result.tool)),
    })),
  ]);
}

function resultText(result: ToolCallResult, maxBytes: number): string {
  switch (result.status) {
    case 'completed': {
      const [kind = 'builtin', ...source] = (result.origin ?? `builtin:${result.tool}`).split(':');
      return renderToolResultBlock(
        {
          callId: result.callId,
          tool: result.tool,
          origin: { kind: kind as 'builtin' | 'http' | 'mcp', source: source.join(':') },
          content: result.content,
          truncated: result.truncated ?? false,
          bytes: Buffer.byteLength(result.content),
        },
        maxBytes,
      );
    }
    case 'failed':
      return `The call ${result.callId} to ${result.tool} failed (${result.code ?? 'error'}): ${result.content}`;
    case 'refused':
      return `The call ${result.callId} to ${result.tool} was NOT executed (${result.code ?? 'refused'}): ${result.content}`;
    case 'rejected':
      return `The call ${result.callId} to ${result.tool} was NOT executed: ${result.content}`;
    case 'outcome_unknown':
      return `The outcome of the call ${result.callId} to ${result.tool} is UNKNOWN (outcome_unknown): ${result.content}`;
  }
}

/** Usage of several model calls as one: tokens, cost and latency summed; model and provider of the latest. */
export function sumUsage(earlier: ModelUsage, latest: ModelUsage): ModelUsage {
  return {
    modelId: latest.modelId,
    provider: latest.provider,
    promptTokens: earlier.promptTokens + latest.promptTokens,
    completionTokens: earlier.completionTokens + latest.completionTokens,
    costUsd: earlier.costUsd + latest.costUsd,
    latencyMs: earlier.latencyMs + latest.latencyMs,
  };
}
