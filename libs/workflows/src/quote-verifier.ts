/**
 * Deterministic verification of what an output quotes: clause and section numbers, amounts
 * (currency or number with a unit) and dates. A model that invents "clause 14.2" or "€50,000"
 * produces a figure its sources do not contain, which no amount of fluent text can hide.
 */

import { keptPerText } from './kept-per-text';

/** One quoted figure: how it appeared and the normalised form compared with the sources. */
export interface Quote {
  readonly kind: 'reference' | 'amount' | 'date';
  /** The text as it appears in the output, e.g. `clause 14.2`, `$1,200`, `30 days`. */
  readonly text: string;
  /** Normalised key, e.g. `ref:14.2`, `amount:USD:1200`, `qty:day:30`, `date:2024-03-01`. */
  readonly key: string;
}

export interface QuoteCheck {
  readonly quotes: readonly Quote[];
  /** The quotes whose key occurs in no source text. */
  readonly unsupported: readonly Quote[];
}

const REFERENCE =
  /\b(?:clauses?|sections?|articles?|art\.|paragraphs?|para\.|schedules?|annex(?:es)?|appendix|appendices|exhibits?)\s*(\d+(?:\.\d+)*[a-z]?(?:\([a-z0-9]+\))*)|§\s*(\d+(?:\.\d+)*[a-z]?)/gi;
const NUMBERED_HEADING = /(?:^|\n)\s*(\d+(?:\.\d+)+|\d+\.?)(?=\s+\p{Lu})/gu;

const CURRENCY_SYMBOLS: Record<string, string> = { $: 'USD', '€': 'EUR', '£': 'GBP', '¥': 'JPY' };
const CURRENCY_WORDS: Record<string, string> = {
  usd: 'USD',
  dollars: 'USD',
  dollar: 'USD',
  eur: 'EUR',
  euros: 'EUR',
  euro: 'EUR',
  gbp: 'GBP',
  pounds: 'GBP',
  pound: 'GBP',
  chf: 'CHF',
  jpy: 'JPY',
};
const MULTIPLIERS: Record<string, number> = {
  k: 1e3,
  thousand: 1e3,
  m: 1e6,
  mn: 1e6,
  million: 1e6,
  bn: 1e9,
  billion: 1e9,
};
const NUMBER = String.raw`\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?`;
const SCALE = String.raw`(?:\s?(k|thousand|mn|m|million|bn|billion)\b)?`;
const AMOUNT_BEFORE = new RegExp(
  String.raw`(?:([$€£¥])|\b(USD|EUR|GBP|CHF|JPY)\s?)(${NUMBER})${SCALE}`,
  'gi',
);
const AMOUNT_AFTER = new RegExp(
  String.raw`\b(${NUMBER})${SCALE}\s?(USD|EUR|GBP|CHF|JPY|dollars?|euros?|pounds?)\b`,
  'gi',
);

const UNITS: Record<string, string> = {
  '%': 'percent',
  percent: 'percent',
  'per cent': 'percent',
  day: 'day',
  days: 'day',
  'calendar day': 'day',
  'calendar days': 'day',
  'business day': 'business day',
  'business days': 'business day',
  'working day': 'business day',
  'working days': 'business day',
  hour: 'hour',
  hours: 'hour',
  hr: 'hour',
  hrs: 'hour',
  h: 'hour',
  minute: 'minute',
  minutes: 'minute',
  min: 'minute',
  mins: 'minute',
  week: 'week',
  weeks: 'week',
  month: 'month',
  months: 'month',
  year: 'year',
  years: 'year',
  gb: 'GB',
  mb: 'MB',
  tb: 'TB',
  seat: 'seat',
  seats: 'seat',
  user: 'user',
  users: 'user',
};
const QUANTITY = new RegExp(
  String.raw`\b(${NUMBER})(?:\s?|-)(%|per cent|percent|(?:calendar|business|working) days?|days?|hours?|hrs?|h|minutes?|mins?|min|weeks?|months?|years?|GB|MB|TB|seats?|users?)(?![\p{L}\d])`,
  'giu',
);

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH = String.raw`(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`;
const ISO_DATE = /\b(\d{4})-(\d{2})-(\d{2})\b/g;
const DAY_MONTH_YEAR = new RegExp(String.raw`\b(\d{1,2})(?:st|nd|rd|th)?\s+${MONTH}\.?,?\s+(\d{4})\b`, 'gi');
const MONTH_DAY_YEAR = new RegExp(String.raw`\b${MONTH}\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b`, 'gi');
const NUMERIC_DATE = /\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b/g;

/** The clause numbers, amounts, quantities with units and dates quoted in a text, in order of appearance. */
export function quotesIn(text: string): Quote[] {
  const found: { at: number; quote: Quote }[] = [];
  const add = (at: number, kind: Quote['kind'], raw: string, key: string) =>
    found.push({ at, quote: { kind, text: raw.trim(), key } });

  for (const m of text.matchAll(REFERENCE))
    add(m.index, 'reference', m[0], `ref:${normaliseRef(m[1] ?? m[2])}`);
  for (const m of text.matchAll(AMOUNT_BEFORE)) {
    const currency = m[1] ? CURRENCY_SYMBOLS[m[1]] : m[2].toUpperCase();
    add(m.index, 'amount', m[0], `amount:${currency}:${numberValue(m[3], m[4])}`);
  }
  for (const m of text.matchAll(AMOUNT_AFTER)) {
    add(m.index, 'amount', m[0], `amount:${CURRENCY_WORDS[m[3].toLowerCase()]}:${numberValue(m[1], m[2])}`);
  }
  for (const m of text.matchAll(QUANTITY)) {
    const unit = UNITS[m[2].toLowerCase().replace(/\s+/g, ' ')] ?? m[2].toLowerCase();
    add(m.index, 'amount', m[0], `qty:${unit}:${numberValue(m[1])}`);
  }
  for (const m of text.matchAll(ISO_DATE)) add(m.index, 'date', m[0], dateKey(m[1], m[2], m[3]));
  for (const m of text.matchAll(DAY_MONTH_YEAR))
    add(m.index, 'date', m[0], dateKey(m[3], monthOf(m[2]), m[1]));
  for (const m of text.matchAll(MONTH_DAY_YEAR))
    add(m.index, 'date', m[0], dateKey(m[3], monthOf(m[1]), m[2]));
  // 01/02/2024 is ambiguous (day or month first): the digits must appear as written.
  for (const m of text.matchAll(NUMERIC_DATE))
    add(m.index, 'date', m[0], `numdate:${+m[1]}/${+m[2]}/${m[3]}`);

  const seen = new Set<string>();
  return found
    .sort((a, b) => a.at - b.at)
    .map((f) => f.quote)
    .filter((q) => !seen.has(q.key) && seen.add(q.key));
}

/**
 * The keys a source text supports: everything quotesIn finds, plus bare section numbers that head a
 * line ("14.2 Limitation of liability"), since contracts rarely write "clause" before their own numbers.
 * Each source's keys are remembered (keptPerText): the same passages are cited by request after
 * request.
 */
export function supportedKeys(sources: readonly string[]): Set<string> {
  const keys = new Set<string>();
  for (const source of sources) for (const key of keysOf(source)) keys.add(key);
  return keys;
}

/** The keys one source text supports (see supportedKeys), remembered for texts seen lately. */
const keysOf = keptPerText((source): readonly string[] => {
  const found = quotesIn(source).map((quote) => quote.key);
  for (const m of source.matchAll(NUMBERED_HEADING)) found.push(`ref:${normaliseRef(m[1])}`);
  return found;
});

/** Checks every quote of the texts against the sources (the cited passages' text). */
export function verifyQuotes(texts: readonly string[], sources: readonly string[]): QuoteCheck {
  const keys = supportedKeys(sources);
  const seen = new Set<string>();
  const quotes = texts.flatMap(quotesIn).filter((q) => !seen.has(q.key) && seen.add(q.key));
  return { quotes, unsupported: quotes.filter((q) => !keys.has(q.key)) };
}

function normaliseRef(ref: string): string {
  return ref.toLowerCase().replace(/\.$/, '');
}

function numberValue(digits: string, scale?: string): string {
  const value = Number(digits.replace(/,/g, '')) * (scale ? (MULTIPLIERS[scale.toLowerCase()] ?? 1) : 1);
  return String(Math.round(value * 100) / 100);
}

function monthOf(name: string): string {
  return String(MONTHS.indexOf(name.slice(0, 3).toLowerCase()) + 1);
}

function dateKey(year: string, month: string, day: string): string {
  return `date:${year}-${month.padStart(2, '0')}-${day.padStart(2, '0')}`;
}
