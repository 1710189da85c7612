/** Why a tool call failed while running (the call was allowed and started). */
export type ToolErrorCode =
  'timeout' | 'aborted' | 'host_not_allowed' | 'http_status' | 'transport' | 'tool_failed' | 'unknown_tool';

/** A failed tool call; `message` is safe to show the model and says what went wrong. */
export class ToolError extends Error {
  override readonly name = 'ToolError';
  constructor(
    readonly code: ToolErrorCode,
    readonly tool: string,
    message: string,
    /** The HTTP status for `http_status`. */
    readonly status?: number,
  ) {
    super(message);
  }

  /** Whether retrying the same call later may succeed (outages and timeouts, not refusals). */
  get transient(): boolean {
    return (
      this.code === 'timeout' || this.code === 'transport' || (this.status ?? 0) >= 500 || this.status === 429
    );
  }
}

/** A tool file that cannot be used; the message names the file and the field. */
export class ToolConfigError extends Error {
  override readonly name = 'ToolConfigError';
  readonly code = 'invalid_tool_file';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
  }
}
