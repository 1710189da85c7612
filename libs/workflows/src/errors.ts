import { TerminalError } from '@llmbus/contracts';

/** Why a request cannot run a workflow; the codes are RequestFailed codes. */
export type WorkflowErrorCode = 'unknown_workflow' | 'invalid_input';

/**
 * A request the workflows cannot serve; `message` tells the requester what to fix. Terminal: the
 * bus fails the request with `code` without retrying, so stages let it propagate.
 */
export class WorkflowError extends TerminalError {
  declare readonly code: WorkflowErrorCode;
  constructor(code: WorkflowErrorCode, message: string, details: readonly string[] = []) {
    super(code, message, details);
    this.name = 'WorkflowError';
  }
}

/** A workflow file that cannot be used; the message names the file and the field. */
export class WorkflowLoadError extends Error {
  override readonly name = 'WorkflowLoadError';
  readonly code = 'invalid_workflow_file';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
  }
}

/** The prompt cannot fit the model's context window even with no passages and the input cut. */
export class PromptTooLargeError extends Error {
  override readonly name = 'PromptTooLargeError';
  readonly code = 'prompt_too_large';
}
