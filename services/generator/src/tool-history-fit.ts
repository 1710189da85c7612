import type { ToolCallResult, ToolRound } from '@llmbus/contracts';
import type { ChatMessage } from '@llmbus/models';
import type { TokenCounter } from '@llmbus/workflows';
import { roundMessages } from './tool-messages';

/**
 * The lowest completion budget (tokens) the tool loop lowers a call's `maxTokens` to when even the
 * fitted rounds leave less room; below it the call fails as `oversize` instead (a workflow whose
 * own `maxOutputTokens` is lower keeps that).
 */
export const MIN_TOOL_LOOP_OUTPUT_TOKENS = 256;
/** Characters an older round's result keeps when it is shortened. */
export const SHORTENED_RESULT_CHARS = 240;
/** Tokens a chat format spends around each message (role markers, separators), as the renderer counts. */
const MESSAGE_OVERHEAD_TOKENS = 4;
/** Characters of a call's arguments a one-line round summary keeps. */
const SUMMARY_ARGUMENT_CHARS = 120;

/** What the loop's prompt must fit in, all in tokens as `counter` counts them. */
export interface ToolHistoryBudget {
  readonly counter: TokenCounter;
  /** The model's context window (prompt plus completion). */
  readonly contextWindow: number;
  /** Prompt tokens before the rounds: system, user, offered tools and reply format. */
  readonly baseTokens: number;
  /** The completion budget asked for (the workflow's `maxOutputTokens`). */
  readonly maxOutputTokens: number;
  /** A tool's result cap in UTF-8 bytes (`maxResultBytes`). */
  readonly maxResultBytes: (tool: string) => number;
}

/** The rounds as they will be sent, and the completion budget that leaves room for them. */
export interface FittedToolHistory {
  readonly messages: ChatMessage[];
  /** The call's `maxTokens`: the asked budget, or less (never below the floor) when the rounds need it. */
  readonly maxOutputTokens: number;
  /** Prompt tokens of the whole prompt (base plus rounds) as counted. */
  readonly promptTokens: number;
  /** Rounds (1-based) whose results were shortened. */
  readonly shortenedRounds: readonly number[];
  /** Rounds (1-based) replaced by a one-line summary. */
  readonly summarisedRounds: readonly number[];
}

/** Thrown when even the latest round with every older one summarised does not fit at the output floor. */
export class ToolHistoryTooLargeError extends Error {}

type Level = 'whole' | 'shortened' | 'summarised';

/**
 * Fits the recorded rounds of a tool loop into the model's context window minus the completion
 * budget, without changing the rounds themselves (what is on the bus stays whole). In order:
 * 1. older rounds' results are shortened, oldest first: each call keeps its tool, arguments and
 *    status, its result text is cut to {@link SHORTENED_RESULT_CHARS} characters with a marker
 *    saying how many characters were cut;
 * 2. older rounds are summarised, oldest first, to one line each (calls, arguments, statuses;
 *    results omitted, with their size);
 * 3. the latest round is always sent whole; when it still does not fit, the completion budget is
 *    lowered to what is left, down to {@link MIN_TOOL_LOOP_OUTPUT_TOKENS};
 * 4. otherwise throws ToolHistoryTooLargeError naming the figures.
 */
export function fitToolHistory(rounds: readonly ToolRound[], budget: ToolHistoryBudget): FittedToolHistory {
  const levels: Level[] = rounds.map(() => 'whole');
  const rendered = new Map<string, { messages: ChatMessage[]; tokens: number }>();
  const roundAt = (index: number) => {
    const key = `${index}:${levels[index]}`;
    let entry = rendered.get(key);
    if (entry === undefined) {
      const messages = renderRound(rounds[index], levels[index], budget.maxResultBytes);
      entry = { messages, tokens: messages.reduce((sum, m) => sum + messageTokens(m, budget.counter), 0) };
      rendered.set(key, entry);
    }
    return entry;
  };
  const promptTokens = () =>
    rounds.reduce((sum, _r, index) => sum + roundAt(index).tokens, budget.baseTokens);
  const fits = () => promptTokens() + budget.maxOutputTokens <= budget.contextWindow;
  const older = rounds.length - 1;
  for (const level of ['shortened', 'summarised'] as const) {
    for (let index = 0; index < older && !fits(); index++) levels[index] = level;
  }
  const needed = promptTokens();
  const floor = Math.min(MIN_TOOL_LOOP_OUTPUT_TOKENS, budget.maxOutputTokens);
  const maxOutputTokens = Math.min(budget.maxOutputTokens, budget.contextWindow - needed);
  if (maxOutputTokens < floor) {
    throw new ToolHistoryTooLargeError(
      `the tool loop's prompt does not fit the ${budget.contextWindow}-token context window: with ` +
        `${older > 0 ? `the ${older} earlier round(s) summarised and ` : ''}round ${rounds.length} whole it needs ${needed} ` +
        `tokens, leaving ${budget.contextWindow - needed} for the answer, below the floor of ${floor} output tokens; ` +
        "lower the tools' maxResultBytes, use a model with a larger window, or lower maxToolRounds",
    );
  }
  return {
    messages: rounds.flatMap((_r, index) => roundAt(index).messages),
    maxOutputTokens,
    promptTokens: needed,
    shortenedRounds: rounds.filter((_r, i) => levels[i] === 'shortened').map((r) => r.round),
    summarisedRounds: rounds.filter((_r, i) => levels[i] === 'summarised').map((r) => r.round),
  };
}

/** Tokens of one message as sent: its text, its calls (`name(arguments)`), the format's overhead. */
export function messageTokens(message: ChatMessage, counter: TokenCounter): number {
  const calls =
    message.role === 'assistant'
      ? (message.toolCalls ?? []).map((c) => `${c.name}(${JSON.stringify(c.arguments)})`).join('\n')
      : '';
  return counter.count(message.content) + (calls === '' ? 0 : counter.count(calls)) + MESSAGE_OVERHEAD_TOKENS;
}

function renderRound(
  round: ToolRound,
  level: Level,
  maxResultBytes: (tool: string) => number,
): ChatMessage[] {
  if (level === 'whole') return roundMessages([round], maxResultBytes);
  if (level === 'shortened')
    return roundMessages([{ ...round, results: round.results.map(shortened) }], maxResultBytes);
  return [{ role: 'assistant', content: summaryLine(round) }];
}

function shortened(result: ToolCallResult): ToolCallResult {
  if (result.content.length <= SHORTENED_RESULT_CHARS) return result;
  const cut = result.content.length - SHORTENED_RESULT_CHARS;
  return {
    ...result,
    content:
      `${result.content.slice(0, SHORTENED_RESULT_CHARS)}\n` +
      `[… ${cut} of ${result.content.length} characters cut to fit the context window]`,
  };
}

function summaryLine(round: ToolRound): string {
  const byId = new Map(round.results.map((r) => [r.callId, r]));
  const calls = round.calls.map((call) => {
    const args = JSON.stringify(call.arguments);
    const shownArgs =
      args.length <= SUMMARY_ARGUMENT_CHARS ? args : `${args.slice(0, SUMMARY_ARGUMENT_CHARS)}…`;
    const result = byId.get(call.callId);
    const outcome =
      result === undefined
        ? 'no result'
        : `${result.status}${result.code === undefined ? '' : ` (${result.code})`}, ${result.content.length}-character result omitted`;
    return `${call.tool}(${shownArgs}) → ${outcome}`;
  });
  return `[Tool round ${round.round}, summarised to fit the context window] ${calls.join('; ')}`;
}
