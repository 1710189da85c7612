import { quotesIn, verifyQuotes } from './quote-verifier';

const contract = [
  '12. Liability',
  '12.1 Neither party excludes liability for death or personal injury caused by its negligence.',
  "12.2 Each party's total liability under this Agreement is capped at EUR 250,000 per contract year.",
  '14. Term and termination',
  '14.1 This Agreement starts on 1 March 2024 and runs for 24 months.',
  '14.3 Either party may terminate for convenience on 90 days written notice.',
  'Schedule 2 sets out the service levels; fees are payable within 30 days of invoice.',
].join('\n');

describe('quote verifier', () => {
  it('finds clause numbers, amounts, quantities and dates, normalised', () => {
    const keys = quotesIn(
      'Under clause 12.2 liability is capped at €250k; notice is 90 days; the term starts March 1, 2024 (see § 7).',
    ).map((q) => q.key);
    expect(keys).toEqual(['ref:12.2', 'amount:EUR:250000', 'qty:day:90', 'date:2024-03-01', 'ref:7']);
  });

  it('supports quotes the contract contains, however they are written', () => {
    const summary =
      'Liability is capped at EUR 250,000 per year (clause 12.2). Termination for convenience needs 90 days notice ' +
      'under section 14.3. The agreement starts on 2024-03-01 and Schedule 2 lists the service levels.';
    const check = verifyQuotes([summary], [contract]);
    expect(check.quotes.map((q) => q.text)).toEqual([
      'EUR 250,000',
      'clause 12.2',
      '90 days',
      'section 14.3',
      '2024-03-01',
      'Schedule 2',
    ]);
    expect(check.unsupported).toEqual([]);
  });

  it('flags an invented clause number, a changed amount and a date the contract does not state', () => {
    const summary =
      'Clause 14.2 allows termination on 60 days notice; liability is capped at €500,000; renewal is due on 1 March 2025.';
    const { unsupported } = verifyQuotes([summary], [contract]);
    expect(unsupported.map((q) => q.text)).toEqual(['Clause 14.2', '60 days', '€500,000', '1 March 2025']);
  });

  it('checks figures in a support reply against the help article', () => {
    const article =
      'Yearly plans can be refunded in full within 14 days of purchase. Refunds go back to the original payment ' +
      'method within 5 to 10 business days.';
    expect(verifyQuotes(['You can get a refund within 14 days of purchase.'], [article]).unsupported).toEqual(
      [],
    );
    expect(
      verifyQuotes(
        ['You can get a refund within 30 days, paid back within 10 business days.'],
        [article],
      ).unsupported.map((q) => q.key),
    ).toEqual(['qty:day:30']);
  });

  it('finds nothing to verify in text without figures', () => {
    expect(verifyQuotes(['Please check your spam folder.'], [contract])).toEqual({
      quotes: [],
      unsupported: [],
    });
  });
});
