import { EVENTS } from '@llmbus/contracts';
import {
  DEFAULT_RETENTION_POLICY,
  EVENT_CLASSES,
  parseRetentionPolicy,
  RetentionPolicyError,
  retentionDays,
} from './audit-retention';

describe('retention policy', () => {
  it('puts every platform event type in exactly one class', () => {
    const classified = Object.values(EVENT_CLASSES).flat();
    expect([...classified].sort()).toEqual(EVENTS.map((e) => e.type).sort());
  });

  it('keeps prompts and context 90 days and outcomes 7 years by default', () => {
    expect(retentionDays(DEFAULT_RETENTION_POLICY, 'acme', 'prompts')).toBe(90);
    expect(retentionDays(DEFAULT_RETENTION_POLICY, 'acme', 'context')).toBe(90);
    expect(retentionDays(DEFAULT_RETENTION_POLICY, 'acme', 'outcomes')).toBe(2557);
  });

  it('lets a tenant override one class, null keeping it for good, and other classes fall back to the default', () => {
    const policy = parseRetentionPolicy({
      default: { prompts: 90, outcomes: 2557 },
      tenants: { acme: { prompts: 30 }, globex: { outcomes: null } },
    });
    expect(retentionDays(policy, 'acme', 'prompts')).toBe(30);
    expect(retentionDays(policy, 'acme', 'outcomes')).toBe(2557);
    expect(retentionDays(policy, 'globex', 'outcomes')).toBeUndefined();
    expect(retentionDays(policy, 'initech', 'context')).toBeUndefined();
  });

  it.each([
    [[], /must be a JSON object/],
    [{ default: { prompt: 90 } }, /default\.prompt is not an event class: use prompts, context/],
    [{ default: { prompts: 0 } }, /default\.prompts must be a whole number of days from 1/],
    [
      { default: {}, tenants: { acme: { outcomes: '7y' } } },
      /tenants\.acme\.outcomes must be a whole number/,
    ],
    [{ default: {}, keep: {} }, /unknown policy field\(s\) keep/],
  ])('refuses %j, naming the field', (value, message) => {
    expect(() => parseRetentionPolicy(value)).toThrow(RetentionPolicyError);
    expect(() => parseRetentionPolicy(value)).toThrow(message);
  });
});
