import { valueAt } from './field-path';

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** Names used by `{{...}}` placeholders in a template, in order of appearance. */
export function placeholdersOf(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/**
 * Replaces `{{path}}` placeholders: `special` names first (e.g. `passages`), then paths looked up
 * in `scope` (e.g. `input.subject`). Missing values render as an empty string; objects as JSON.
 */
export function fillTemplate(
  template: string,
  scope: Readonly<Record<string, unknown>>,
  special: Readonly<Record<string, string>> = {},
  escape: (value: string) => string = (value) => value,
): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    if (Object.prototype.hasOwnProperty.call(special, name)) return special[name];
    return escape(stringify(valueAt(scope, name)));
  });
}

function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
