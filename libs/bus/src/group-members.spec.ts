import { GroupMember, GroupMembers } from './group-members';
import type { ConsumerHealth } from './transport';

class FakeMember implements GroupMember {
  closed = 0;
  constructor(
    private readonly startError?: Error,
    public state: ConsumerHealth = { consuming: true },
  ) {}
  async start(): Promise<void> {
    if (this.startError) throw this.startError;
  }
  async close(): Promise<void> {
    this.closed += 1;
  }
  health(): ConsumerHealth {
    return this.state;
  }
}

const host = () => ({ lag: jest.fn(async () => []), deleteGroup: jest.fn(async () => undefined) });
const options = (deleteGroupOnClose = false) => ({ groupId: 'g', topics: ['t'], deleteGroupOnClose });

describe('GroupMembers', () => {
  it('closes a member that cannot start, forgets it and rethrows its error', async () => {
    const members = new GroupMembers(host());
    const member = new FakeMember(new Error('no coordinator'));
    await expect(members.subscribe(member, options())).rejects.toThrow('no coordinator');
    expect(member.closed).toBe(1);
    member.state = { consuming: false, reason: 'left' };
    expect(members.health()).toEqual({ consuming: true });
  });

  it('reports the first member not consuming, and forgets a member once its subscription closes', async () => {
    const h = host();
    const members = new GroupMembers(h);
    const healthy = new FakeMember();
    const stuck = new FakeMember(undefined, { consuming: false, reason: 'rejoining' });
    await members.subscribe(healthy, options());
    const subscription = await members.subscribe(stuck, options(true));
    expect(members.health()).toEqual({ consuming: false, reason: 'rejoining' });
    await subscription.close();
    expect(stuck.closed).toBe(1);
    expect(h.deleteGroup).toHaveBeenCalledWith('g');
    expect(members.health()).toEqual({ consuming: true });
    await members.closeAll();
    expect(healthy.closed).toBe(1);
  });

  it('keeps the group of a subscription that does not ask for its deletion', async () => {
    const h = host();
    const subscription = await new GroupMembers(h).subscribe(new FakeMember(), options(false));
    await subscription.close();
    expect(h.deleteGroup).not.toHaveBeenCalled();
  });
});
