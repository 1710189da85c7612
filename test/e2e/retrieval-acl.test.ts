// Permission filters through the whole pipeline: five service processes on a real Kafka broker,
// documents of two tenants (one restricted to a group) submitted over Kafka, tickets submitted over
// Kafka, and the ContextRetrieved events read from `orchestration.retrieved.v1` as a downstream
// consumer sees them. A user must never receive a passage of another tenant or outside their groups.
import { randomBytes } from 'node:crypto';
import {
  DocumentIndexedEvent,
  DocumentSubmittedEvent,
  RequestSubmittedEvent,
  Topics,
  type ContextRetrieved,
  type DocumentSubmitted,
} from '@llmbus/contracts';
import { ceHeaders, dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';

jest.setTimeout(600_000);

const TENANT_A = 'acl-a';
const TENANT_B = 'acl-b';

// All three documents answer the same question, so only the filters can keep one from a user.
const DOCUMENTS: { tenant: string; doc: DocumentSubmitted }[] = [
  {
    tenant: TENANT_A,
    doc: docOf(
      'sync-reset-public',
      'Acme Sync password reset',
      'To reset your Acme Sync password open Settings, choose Security and press Reset password; the reset email arrives within five minutes.',
      [],
    ),
  },
  {
    tenant: TENANT_A,
    doc: docOf(
      'sync-reset-finance',
      'Acme Sync password reset for finance accounts',
      'Finance accounts reset their Acme Sync password only through the treasury desk, because reset emails to finance mailboxes are blocked.',
      ['finance'],
    ),
  },
  {
    tenant: TENANT_B,
    doc: docOf(
      'sync-reset-tenant-b',
      'Acme Sync password reset at Tenant B',
      'Tenant B staff reset the Acme Sync password through the Tenant B identity portal; reset emails are disabled at Tenant B.',
      [],
    ),
  },
];

function docOf(documentId: string, title: string, text: string, aclGroups: string[]): DocumentSubmitted {
  return {
    documentId,
    collection: 'product-docs',
    title,
    sourceUri: `https://docs.example/${documentId}`,
    contentType: 'text/markdown',
    content: `# ${title}\n\n${text}\n`,
    aclGroups,
    version: 1,
  };
}

describe('retrieval permissions through the Kafka pipeline', () => {
  const pipeline = new Pipeline('e2e-retrieval-acl', {
    tenant: TENANT_A,
    tapTopics: [Topics.Retrieved.name, Topics.DocumentIndexed.name],
  });
  const topic = (name: string) => pipeline.topic(name);

  async function ask(tenant: string, groups: string[]): Promise<ContextRetrieved> {
    const requestId = `acl-${randomBytes(4).toString('hex')}`;
    const payload = {
      requestId,
      eventType: 'ticket.created',
      input: {
        subject: 'Password reset email never arrives',
        body: 'How do I reset my Acme Sync password? The reset email never arrives.',
        product: 'Acme Sync',
      },
      requester: { userId: `user-${groups.join('-') || 'none'}`, groups },
    };
    await pipeline.send(
      Topics.Request.name,
      requestId,
      ceHeaders(RequestSubmittedEvent.type, requestId, tenant),
      JSON.stringify(payload),
    );
    const message = await pipeline.tap.waitFor(
      (m) => m.topic === topic(Topics.Retrieved.name) && m.key === requestId,
      180_000,
      `ContextRetrieved for ${requestId}`,
    );
    expect(message.headers['ce_tenantid']).toBe(tenant);
    return message.json as unknown as ContextRetrieved;
  }

  beforeAll(async () => {
    await pipeline.start();
    for (const { tenant, doc } of DOCUMENTS) {
      await pipeline.send(
        Topics.DocumentIngest.name,
        doc.documentId,
        ceHeaders(DocumentSubmittedEvent.type, doc.documentId, tenant),
        JSON.stringify(doc),
      );
    }
    for (const { tenant, doc } of DOCUMENTS) {
      await pipeline.tap.waitFor(
        (m) =>
          m.headers['ce_type'] === DocumentIndexedEvent.type &&
          m.key === doc.documentId &&
          m.headers['ce_tenantid'] === tenant,
        180_000,
        `DocumentIndexed for ${tenant}/${doc.documentId}`,
      );
    }
  });

  afterAll(() => pipeline.stop());
  afterEach(() => dumpOutputOnFailure(pipeline));

  it("gives a tenant user outside 'finance' only the public passage of their tenant, and counts the restricted one as withheld", async () => {
    const retrieved = await ask(TENANT_A, ['support']);
    expect(retrieved.passages.map((p) => p.documentId)).toEqual(['sync-reset-public']);
    expect(retrieved.withheldCount).toBe(1);
    expect(JSON.stringify(retrieved)).not.toMatch(/treasury|Tenant B/);
    expect(retrieved.passages[0]).toMatchObject({
      collection: 'product-docs',
      sourceUri: 'https://docs.example/sync-reset-public',
      sectionPath: 'Acme Sync password reset',
    });
  });

  it("gives a 'finance' member of the same tenant the restricted passage too, and nothing of the other tenant", async () => {
    const retrieved = await ask(TENANT_A, ['finance']);
    expect(retrieved.passages.map((p) => p.documentId).sort()).toEqual([
      'sync-reset-finance',
      'sync-reset-public',
    ]);
    expect(retrieved.withheldCount).toBe(0);
    expect(JSON.stringify(retrieved)).not.toMatch(/Tenant B/);
  });

  it("gives the other tenant's user, even in a group of the same name, only their tenant's passage", async () => {
    const retrieved = await ask(TENANT_B, ['finance']);
    expect(retrieved.passages.map((p) => p.documentId)).toEqual(['sync-reset-tenant-b']);
    expect(retrieved.withheldCount).toBe(0);
    expect(JSON.stringify(retrieved)).not.toMatch(/treasury|Settings, choose Security/);
  });
});
