import type { ToolRound } from '@llmbus/contracts';
import { conservativeTokenCounter } from '@llmbus/models';
import {
  fitToolHistory,
  messageTokens,
  MIN_TOOL_LOOP_OUTPUT_TOKENS,
  ToolHistoryTooLargeError,
  type ToolHistoryBudget,
} from './tool-history-fit';
import { roundMessages } from './tool-messages';

/** A log line repeated to `chars` characters: dense, like the runbook's log_search results. */
function logText(chars: number, tag: string): string {
  const line = `2026-11-30T08:00:00Z ERROR ${tag} pool exhausted: 50/50 connections busy, waited 2000 ms\n`;
  return line.repeat(Math.ceil(chars / line.length)).slice(0, chars);
}

function round(n: number, resultChars: number): ToolRound {
  const callId = `r1.a1.t${n}.0`;
  const args = { query: `pool exhausted ${n}`, since: '1h' };
  return {
    round: n,
    assistantText: `Round ${n}: searching the logs.`,
    calls: [{ callId, tool: 'log_search', arguments: args }],
    results: [
      {
        callId,
        tool: 'log_search',
        arguments: args,
        status: 'completed',
        content: logText(resultChars, `round-${n}`),
        origin: 'builtin:log_search',
      },
    ],
  };
}

const budget = (over: Partial<ToolHistoryBudget> = {}): ToolHistoryBudget => ({
  counter: conservativeTokenCounter,
  contextWindow: 1024,
  baseTokens: 100,
  maxOutputTokens: 200,
  maxResultBytes: () => 16_384,
  ...over,
});

/** The prompt's tokens as the generator counts them: base plus every message. */
function sentTokens(messages: ReturnType<typeof roundMessages>, base: number): number {
  return messages.reduce((sum, m) => sum + messageTokens(m, conservativeTokenCounter), base);
}

describe('fitToolHistory (1,024-token window, conservative counter)', () => {
  it('sends short rounds as they are', () => {
    const rounds = [round(1, 100), round(2, 100)];
    const fitted = fitToolHistory(rounds, budget());
    expect(fitted.messages).toEqual(roundMessages(rounds, () => 16_384));
    expect(fitted.maxOutputTokens).toBe(200);
    expect(fitted.shortenedRounds).toEqual([]);
  });

  it('shortens older rounds first, keeping calls, arguments and status, with a marker saying how much was cut; the latest round stays whole', () => {
    const rounds = [round(1, 900), round(2, 300)];
    const whole = roundMessages(rounds, () => 16_384);
    expect(sentTokens(whole, 100) + 200).toBeGreaterThan(1024);

    const fitted = fitToolHistory(rounds, budget());
    expect(fitted.promptTokens + fitted.maxOutputTokens).toBeLessThanOrEqual(1024);
    expect(sentTokens(fitted.messages, 100)).toBe(fitted.promptTokens);
    expect(fitted.maxOutputTokens).toBe(200);
    expect(fitted.shortenedRounds).toEqual([1]);
    expect(fitted.summarisedRounds).toEqual([]);
    const first = fitted.messages.filter((m) => m.role === 'tool')[0];
    expect(first.content).toContain('[… 660 of 900 characters cut to fit the context window]');
    expect(first.content).toContain('<tool_result tool="log_search" call="r1.a1.t1.0"');
    expect(fitted.messages[0]).toEqual(whole[0]); // the call and its arguments as made
    // The latest round as recorded.
    expect(fitted.messages.slice(-2)).toEqual(whole.slice(-2));
    // The recorded rounds themselves are untouched (what ToolCallsCompleted carries stays whole).
    expect(rounds[0].results[0].content).toHaveLength(900);
  });

  it('then summarises the oldest rounds to one line each', () => {
    const rounds = [1, 2, 3, 4].map((n) => round(n, 500));
    const fitted = fitToolHistory(rounds, budget());
    expect(fitted.promptTokens + fitted.maxOutputTokens).toBeLessThanOrEqual(1024);
    expect(fitted.maxOutputTokens).toBe(200);
    expect(fitted.summarisedRounds).toEqual([1, 2, 3]);
    const summary = fitted.messages[0];
    expect(summary.role).toBe('assistant');
    expect(summary.content).toBe(
      '[Tool round 1, summarised to fit the context window] ' +
        'log_search({"query":"pool exhausted 1","since":"1h"}) → completed, 500-character result omitted',
    );
    expect(summary.content).not.toContain('\n');
    expect(fitted.messages.slice(-2)).toEqual(roundMessages([rounds[3]], () => 16_384));
  });

  it('lowers the output budget, down to the floor, when the latest round alone needs it', () => {
    const fitted = fitToolHistory([round(1, 2000), round(2, 700)], budget({ maxOutputTokens: 400 }));
    expect(fitted.maxOutputTokens).toBeLessThan(400);
    expect(fitted.maxOutputTokens).toBeGreaterThanOrEqual(MIN_TOOL_LOOP_OUTPUT_TOKENS);
    expect(fitted.promptTokens + fitted.maxOutputTokens).toBeLessThanOrEqual(1024);
    expect(fitted.summarisedRounds).toEqual([1]);
  });

  it('fails with the figures when even the latest round does not fit at the floor', () => {
    const fit = () => fitToolHistory([round(1, 500), round(2, 3000)], budget({ maxOutputTokens: 400 }));
    expect(fit).toThrow(ToolHistoryTooLargeError);
    expect(fit).toThrow(
      /does not fit the 1024-token context window: .* round 2 whole it needs \d+ tokens, .* below the floor of 256 output tokens/,
    );
  });
});
