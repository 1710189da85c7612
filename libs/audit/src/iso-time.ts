/** ISO 8601 in UTC whatever the driver returned. */
export function isoTime(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
