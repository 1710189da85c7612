/** A configuration value that cannot be used; the message names the variable and the expected form. */
export class ConfigError extends Error {
  readonly code = 'invalid_config';
  constructor(
    readonly variable: string,
    expected: string,
    actual: string | undefined,
  ) {
    super(`${variable} ${actual === undefined ? 'is not set' : `is "${actual}"`}: expected ${expected}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads a variable, or its default when unset or empty. */
export function str(env: Env, name: string, fallback?: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    if (fallback === undefined) throw new ConfigError(name, 'a value', undefined);
    return fallback;
  }
  return value;
}

/** An optional variable: undefined when unset or empty. */
export function optional(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** An integer within [min, max]. */
export function int(
  env: Env,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  }
  return value;
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw))
    throw new ConfigError(name, `one of ${choices.join(', ')}`, raw);
  return raw as T;
}

/** An http(s) URL. */
export function url(env: Env, name: string): string | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
  } catch {
    throw new ConfigError(name, 'an http:// or https:// URL', raw);
  }
  return raw;
}

/** A comma-separated list of host:port pairs. */
export function hostPorts(env: Env, name: string, fallback?: string): string[] {
  const raw = str(env, name, fallback);
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0 || list.some((hp) => !/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(hp))) {
    throw new ConfigError(name, 'comma-separated host:port pairs, e.g. 127.0.0.1:9092', raw);
  }
  return list;
}

/**
 * A comma-separated list of at most `maxCount` ascending durations in milliseconds, each within
 * [min, max]; `off` gives an empty list.
 */
export function ascendingMs(
  env: Env,
  name: string,
  fallback: readonly number[],
  limits: { maxCount: number; min: number; max: number },
): number[] {
  const raw = optional(env, name);
  if (raw === undefined) return [...fallback];
  if (raw.trim() === 'off') return [];
  const expected = `"off" or 1 to ${limits.maxCount} ascending integers (milliseconds, ${limits.min} to ${limits.max}) separated by ",", e.g. 1000,10000,60000`;
  const parts = raw.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  const valid =
    parts.length >= 1 &&
    parts.length <= limits.maxCount &&
    parts.every((p) => /^\d+$/.test(p)) &&
    values.every((v, i) => v >= limits.min && v <= limits.max && (i === 0 || v >= values[i - 1]));
  if (!valid) throw new ConfigError(name, expected, raw);
  return values;
}

/**
 * A 32-byte secret key: 64 hex digits or base64 of 32 bytes (`openssl rand -base64 32`); undefined
 * when unset. The value never appears in the error.
 */
export function secretKey32(env: Env, name: string): Buffer | undefined {
  const raw = optional(env, name)?.trim();
  if (raw === undefined) return undefined;
  const key = decodeKey32(raw);
  if (key === undefined) {
    throw new ConfigError(
      name,
      '32 random bytes as 64 hex digits or base64 (openssl rand -base64 32)',
      '<redacted>',
    );
  }
  return key;
}

/**
 * A comma-separated list of 32-byte keys, each as secretKey32 reads one (64 hex digits or base64);
 * spaces around entries are ignored, empty when unset. Throws ConfigError naming the variable and
 * the 1-based position of the first bad (or empty) entry; no key material appears in the error.
 */
export function secretKey32List(env: Env, name: string): Buffer[] {
  const raw = optional(env, name)?.trim();
  if (raw === undefined || raw === '') return [];
  return raw.split(',').map((entry, index) => {
    const key = decodeKey32(entry.trim());
    if (key === undefined) {
      throw new ConfigError(
        name,
        `comma-separated keys, each 32 random bytes as 64 hex digits or base64 (openssl rand -base64 32); entry ${index + 1} is not one`,
        '<redacted>',
      );
    }
    return key;
  });
}

/** 64 hex digits or canonical base64 of 32 bytes as the key, undefined otherwise. */
function decodeKey32(raw: string): Buffer | undefined {
  const hex = /^[0-9a-fA-F]{64}$/.test(raw);
  const key = hex ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  return key.length === 32 && (hex || key.toString('base64') === raw) ? key : undefined;
}
