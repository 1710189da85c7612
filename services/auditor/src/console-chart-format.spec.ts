// The console's chart formatting (services/auditor/console/chart-format.js, a browser ES module).
import { formatTimeTick, formatUsd, timeAxisBounds } from '../console/chart-format.js';

describe('console chart formatting', () => {
  it('prints costs as USD without exponent notation', () => {
    expect(formatUsd(0.00008)).toBe('$0.00008');
    expect(formatUsd(8e-5)).not.toMatch(/e/i);
    expect(formatUsd(0.0123456)).toBe('$0.0123');
    expect(formatUsd(0.30000000000000004)).toBe('$0.3');
    expect(formatUsd(0)).toBe('$0');
    expect(formatUsd(1234.5)).toBe('$1,234.50');
    expect(formatUsd(-0.5)).toBe('-$0.5');
    expect(formatUsd('0.1')).toBe('');
    expect(formatUsd(Number.NaN)).toBe('');
  });

  it('bounds a time axis by the data: one point gets a one-minute axis around it', () => {
    const at = Date.parse('2026-11-30T14:00:00Z');
    expect(timeAxisBounds([at])).toEqual({ min: at - 30_000, max: at + 30_000 });
    expect(timeAxisBounds([at, at + 2_000], 10_000)).toEqual({ min: at - 4_000, max: at + 6_000 });
    expect(timeAxisBounds([])).toBeUndefined();
  });

  it('pads a longer range by 5 % either side', () => {
    const at = Date.parse('2026-11-30T14:00:00Z');
    expect(timeAxisBounds([at + 600_000, at, at + 300_000])).toEqual({ min: at - 30_000, max: at + 630_000 });
  });

  it('labels ticks with the time of day, and the date once the axis spans more than a day', () => {
    const at = Date.parse('2026-11-30T14:05:09Z');
    expect(formatTimeTick(at, timeAxisBounds([at]))).toBe('14:05:09');
    expect(formatTimeTick(at, { min: at - 2 * 86_400_000, max: at })).toBe('11-30 14:05');
  });
});
