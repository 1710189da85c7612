// Axis formatting for the console's charts (pure functions; unit-tested in services/auditor/src/console-chart-format.spec.ts).

/**
 * A USD amount as people read it, never in exponent notation (Chart.js's default tick labels
 * print 0.00008 as "8.00000E-5"): cents for amounts of a dollar or more ("$1,234.50"), three
 * significant digits below a dollar ("$0.00008", "$0.0123"), "$0" for zero. Not a number: "".
 * @param {unknown} value amount in USD
 * @returns {string}
 */
export function formatUsd(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '';
  if (value === 0) return '$0';
  const options =
    Math.abs(value) >= 1
      ? { minimumFractionDigits: 2, maximumFractionDigits: 2 }
      : { maximumSignificantDigits: 3 };
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', ...options }).format(value);
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * Bounds of a time axis (epoch milliseconds) from the data itself, so a single point or a burst of
 * a few seconds is not drawn on an axis spanning hours: the data's range with 5 % either side, at
 * least `minSpanMs` wide (centred on the data). No times: undefined (let the chart decide).
 * @param {readonly number[]} times epoch milliseconds of the points
 * @param {number} [minSpanMs] narrowest axis, default one minute
 * @returns {{ min: number, max: number } | undefined}
 */
export function timeAxisBounds(times, minSpanMs = MINUTE) {
  const finite = times.filter((t) => Number.isFinite(t));
  if (finite.length === 0) return undefined;
  const first = Math.min(...finite);
  const last = Math.max(...finite);
  const pad = (last - first) * 0.05;
  let min = first - pad;
  let max = last + pad;
  if (max - min < minSpanMs) {
    const middle = (first + last) / 2;
    min = middle - minSpanMs / 2;
    max = middle + minSpanMs / 2;
  }
  return { min: Math.floor(min), max: Math.ceil(max) };
}

/**
 * A time-axis tick label in UTC: "HH:MM:SS" when the axis spans at most a day, "MM-DD HH:MM" beyond.
 * @param {number} value epoch milliseconds
 * @param {{ min: number, max: number } | undefined} bounds the axis bounds (timeAxisBounds)
 * @returns {string}
 */
export function formatTimeTick(value, bounds) {
  const iso = new Date(value).toISOString();
  return bounds && bounds.max - bounds.min > DAY ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 19);
}
