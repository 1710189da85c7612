import type { Principal } from './principal';
import { requesterFor, RequesterIdentityError } from './requester-identity';

const principal: Principal = {
  id: 'user-1',
  kind: 'jwt',
  tenantId: 'acme',
  roles: new Set(['submitter']),
  groups: ['support-staff', 'hr'],
};

function refusal(fn: () => unknown): RequesterIdentityError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RequesterIdentityError) return error;
    throw error;
  }
  throw new Error('expected a RequesterIdentityError');
}

describe('requesterFor', () => {
  it("uses the principal's id and every group when the body names none", () => {
    expect(requesterFor(principal, undefined)).toEqual({ userId: 'user-1', groups: ['support-staff', 'hr'] });
    expect(requesterFor(principal, { userId: 'user-1' })).toEqual({
      userId: 'user-1',
      groups: ['support-staff', 'hr'],
    });
  });

  it('keeps a subset the body names, including none at all', () => {
    expect(requesterFor(principal, { groups: ['hr', 'hr'] })).toEqual({ userId: 'user-1', groups: ['hr'] });
    expect(requesterFor(principal, { groups: [] })).toEqual({ userId: 'user-1', groups: [] });
  });

  it('refuses groups the principal lacks, naming only those', () => {
    const error = refusal(() => requesterFor(principal, { groups: ['hr', 'execs', 'board', 'execs'] }));
    expect(error.code).toBe('forbidden_groups');
    expect(error.refused).toEqual(['execs', 'board']);
    expect(error.message).toMatch(/may not act for group\(s\) "execs", "board"/);
  });

  it('refuses another user id', () => {
    const error = refusal(() => requesterFor(principal, { userId: 'ceo', groups: [] }));
    expect(error.code).toBe('forbidden_user');
  });

  it('asks to choose when the principal has more groups than a request carries', () => {
    const many = { ...principal, groups: Array.from({ length: 101 }, (_, i) => `g${i}`) };
    expect(refusal(() => requesterFor(many, undefined)).code).toBe('too_many_groups');
    expect(requesterFor(many, { groups: ['g7'] }).groups).toEqual(['g7']);
  });
});
