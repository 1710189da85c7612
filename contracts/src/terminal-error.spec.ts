import { isTerminalError, TerminalError } from './terminal-error';

describe('TerminalError', () => {
  it('says of itself that it is not retryable and carries its failure code and details', () => {
    const error = new TerminalError('invalid_input', 'input.priority must be one of low, high', [
      'input.priority',
    ]);
    expect(error).toMatchObject({ retryable: false, code: 'invalid_input', details: ['input.priority'] });
    expect(isTerminalError(error)).toBe(true);
  });

  it('recognises subclasses, and no plain error, even one with a code and retryable false', () => {
    class WorkflowMissing extends TerminalError {}
    expect(isTerminalError(new WorkflowMissing('unknown_workflow', 'no workflow x'))).toBe(true);
    expect(isTerminalError(Object.assign(new Error('x'), { code: 'model_error', retryable: false }))).toBe(
      false,
    );
    expect(isTerminalError('unknown_workflow')).toBe(false);
  });
});
