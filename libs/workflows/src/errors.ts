/** Why a request cannot run a workflow; the codes are RequestFailed codes. */
export type WorkflowErrorCode = 'unknown_workflow' | 'invalid_input';

/** A request the workflows cannot serve; `message` tells the requester what to fix. */
export class WorkflowError extends Error {
  override readonly name = 'WorkflowError';
  constructor(
    readonly code: WorkflowErrorCode,
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
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
