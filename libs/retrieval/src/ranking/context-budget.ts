import { estimateTokens, type TokenCounter } from '../chunking/token-counter';

/**
 * Keeps items, best first, while their tokens fit the budget: a passage too long for what is left is
 * skipped and a shorter one after it may still fit; at most `limit` items.
 */
export function withinTokenBudget<T>(
  items: readonly T[],
  textOf: (item: T) => string,
  budget: { maxTokens: number; limit: number; countTokens?: TokenCounter },
): T[] {
  const count = budget.countTokens ?? estimateTokens;
  const kept: T[] = [];
  let used = 0;
  for (const item of items) {
    if (kept.length >= budget.limit) break;
    const tokens = count(textOf(item));
    if (used + tokens > budget.maxTokens) continue;
    kept.push(item);
    used += tokens;
  }
  return kept;
}
