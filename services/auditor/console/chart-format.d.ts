// Types of chart-format.js (a browser ES module served as is), for its unit test.

/** A USD amount without exponent notation: "$0.00008", "$0.0123", "$1,234.50", "$0"; "" for a non-number. */
export declare function formatUsd(value: unknown): string;

/** Time-axis bounds (epoch ms) from the data: its range padded 5 %, at least `minSpanMs` (default 60000) wide. */
export declare function timeAxisBounds(
  times: readonly number[],
  minSpanMs?: number,
): { min: number; max: number } | undefined;

/** A time-axis tick in UTC: "HH:MM:SS", or "MM-DD HH:MM" when the axis spans more than a day. */
export declare function formatTimeTick(value: number, bounds: { min: number; max: number } | undefined): string;
