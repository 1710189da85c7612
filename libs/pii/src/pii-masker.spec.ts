import { createPiiDetector } from './create-pii-detector';
import { PiiMasker, redactionMarker, restoreText, restoreValue } from './pii-masker';
import { resolvePiiPolicy } from './pii-policy';
import { openVault, PiiVault, sealVault } from './pii-vault';
import { randomBytes } from 'node:crypto';

const masker = new PiiMasker(createPiiDetector());
const policy = resolvePiiPolicy();

describe('PiiMasker', () => {
  it('gives each value a stable placeholder: the same value twice, the same placeholder', () => {
    const vault = new PiiVault();
    const text = 'Maria Schneider (maria@example.de) wrote; Oliver Bennett replied to maria@example.de.';
    expect(masker.maskText(text, policy.prompts, vault)).toBe(
      '<PERSON_1> (<EMAIL_1>) wrote; <PERSON_2> replied to <EMAIL_1>.',
    );
    expect(vault.entries()).toEqual([
      ['<PERSON_1>', 'Maria Schneider'],
      ['<EMAIL_1>', 'maria@example.de'],
      ['<PERSON_2>', 'Oliver Bennett'],
    ]);
  });

  it('round-trips: restoring the masked text gives back the original', () => {
    const vault = new PiiVault();
    const text =
      'Refund 4111 1111 1111 1111 to DE89 3704 0044 0532 0130 00 for Jean-Pierre Dubois, +49 170 1234567.';
    const masked = masker.maskText(text, policy.prompts, vault);
    expect(masked).not.toMatch(/4111 1111|DE89|Dubois|170 1234567/);
    expect(restoreText(masked, vault)).toBe(text);
  });

  it('redacts for good, keeps allowed types, and leaves placeholders and non-PII alone', () => {
    const vault = new PiiVault();
    const actions = resolvePiiPolicy({ prompts: { default: 'redact', EMAIL: 'allow' } }).prompts;
    const text =
      'Card 4111 1111 1111 1111, mail help@acme.io, order 1234567890123, version 1.2.3, <PERSON_1>.';
    expect(masker.maskText(text, actions, vault)).toBe(
      `Card ${redactionMarker('PAYMENT_CARD')}, mail help@acme.io, order 1234567890123, version 1.2.3, <PERSON_1>.`,
    );
    expect(vault.size).toBe(0);
  });

  it('masks every string of a nested value and keeps numbers, booleans and keys', () => {
    const vault = new PiiVault();
    const output = { reply: 'Write to help@acme.io', citations: ['kb-1'], confidence: 0.5, urgent: false };
    const masked = masker.maskValue(output, policy.prompts, vault);
    expect(masked).toEqual({
      reply: 'Write to <EMAIL_1>',
      citations: ['kb-1'],
      confidence: 0.5,
      urgent: false,
    });
    expect(restoreValue(masked, vault)).toEqual(output);
  });

  it('keeps placeholders the vault never issued', () => {
    expect(restoreText('Dear <PERSON_7>', new PiiVault())).toBe('Dear <PERSON_7>');
  });
});

describe('resolvePiiPolicy', () => {
  it('fills the defaults: prompts and audit masked, outputs restored except cards and credentials', () => {
    expect(policy.prompts.PERSON).toBe('mask');
    expect(policy.audit.IBAN).toBe('mask');
    expect(policy.outputs.EMAIL).toBe('allow');
    expect(policy.outputs.PAYMENT_CARD).toBe('redact');
    expect(policy.outputs.BEARER_TOKEN).toBe('redact');
  });

  it('overrides listed types only, unless the channel sets its own default', () => {
    const custom = resolvePiiPolicy({
      outputs: { EMAIL: 'mask' },
      prompts: { default: 'allow', API_KEY: 'redact' },
    });
    expect(custom.outputs.EMAIL).toBe('mask');
    expect(custom.outputs.PAYMENT_CARD).toBe('redact');
    expect(custom.prompts.PERSON).toBe('allow');
    expect(custom.prompts.API_KEY).toBe('redact');
  });
});

describe('resolvePiiPolicy per tenant', () => {
  it("layers a tenant's overrides over the workflow's channels, other tenants keep the workflow's", () => {
    const spec = {
      outputs: { EMAIL: 'mask' as const },
      tenants: {
        acme: { outputs: { PHONE: 'redact' as const } },
        globex: { prompts: { default: 'allow' as const } },
      },
    };
    const acme = resolvePiiPolicy(spec, 'acme');
    expect([acme.outputs.EMAIL, acme.outputs.PHONE, acme.outputs.PAYMENT_CARD]).toEqual([
      'mask',
      'redact',
      'redact',
    ]);
    expect(resolvePiiPolicy(spec, 'globex').prompts.PERSON).toBe('allow');
    expect(resolvePiiPolicy(spec, 'initech')).toEqual(resolvePiiPolicy(spec));
  });
});

describe('sealed vaults', () => {
  const key = randomBytes(32);
  const vault = PiiVault.fromEntries([
    ['<PERSON_1>', 'Maria Schneider'],
    ['<IBAN_1>', 'DE89 3704 0044 0532 0130 00'],
  ]);

  it('encrypts the mapping (no value in the sealed form) and opens it with the same key and request', () => {
    const sealed = sealVault(vault, key, 'req-1');
    expect(JSON.stringify(sealed)).not.toContain('Schneider');
    expect(openVault(sealed, key, 'req-1').entries()).toEqual(vault.entries());
    expect(openVault(sealed, key, 'req-1').placeholderFor('PERSON', 'Someone Else')).toBe('<PERSON_2>');
  });

  it('refuses another key or another request id, naming LLMBUS_PII_KEY', () => {
    const sealed = sealVault(vault, key, 'req-1');
    expect(() => openVault(sealed, randomBytes(32), 'req-1')).toThrow(/LLMBUS_PII_KEY/);
    expect(() => openVault(sealed, key, 'req-2')).toThrow(
      expect.objectContaining({ code: 'pii_key_mismatch' }),
    );
  });
});
