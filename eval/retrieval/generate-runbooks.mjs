#!/usr/bin/env node
// Writes runbooks.json and runbook-questions.json: 24 service runbooks of five sections each, from
// the fact table below (self-written, fictional services). Runbooks of one template differ only in
// their facts, which makes them a hard test of telling entities apart. Deterministic: re-running it
// rewrites the same files.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SERVICES = [
  ['billing-api', 'creates invoices and charges saved payment methods', 'ledger-service'],
  ['payments-gateway', 'talks to card acquirers and wallets for every checkout', 'the acquirer APIs'],
  ['search-indexer', 'keeps the product search index in Elasticsearch up to date', 'Elasticsearch'],
  ['auth-service', 'issues and validates login sessions and OAuth tokens', 'session-store'],
  ['notification-hub', 'sends push notifications and in-app messages', 'Firebase Cloud Messaging'],
  ['order-service', 'stores orders and drives their state machine from cart to delivery', 'PostgreSQL'],
  ['inventory-sync', 'imports stock levels from warehouses every five minutes', 'the warehouse SFTP drop'],
  ['pricing-engine', 'computes prices, discounts and taxes for carts', 'feature-flags'],
  ['report-builder', 'renders scheduled PDF and CSV reports for customers', 'the data warehouse'],
  ['media-transcoder', 'converts uploaded videos into streaming formats', 'the object storage bucket'],
  ['email-relay', 'sends transactional email through the external mail provider', 'the mail provider API'],
  ['feature-flags', 'serves feature flag rules to every other service', 'Redis'],
  ['audit-log', 'records who changed what in the admin console', 'Kafka'],
  ['customer-portal', 'serves the self-service web portal for customers', 'api-gateway'],
  ['warehouse-loader', 'loads the nightly batch into the data warehouse', 'Kafka'],
  ['recommendation-engine', 'ranks product recommendations for each visitor', 'the feature store'],
  ['session-store', 'keeps login sessions in a Redis cluster', 'Redis'],
  ['api-gateway', 'routes all public API traffic and enforces rate limits', 'auth-service'],
  ['job-scheduler', 'runs cron-style jobs for all teams', 'PostgreSQL'],
  ['ledger-service', 'keeps the double-entry ledger of all money movements', 'PostgreSQL'],
  ['secrets-vault', 'stores and rotates service credentials in HashiCorp Vault', 'the HSM'],
  ['postgres-primary', 'is the primary PostgreSQL cluster of the transactional services', 'the storage array'],
  ['kafka-cluster', 'is the shared Kafka cluster for events between services', 'ZooKeeper-free KRaft controllers'],
  ['backup-orchestrator', 'schedules and verifies database and bucket backups', 'the backup vault'],
];
const RESTRICTED = new Set(['secrets-vault', 'postgres-primary', 'kafka-cluster', 'backup-orchestrator']);
const TEAMS = ['Payments', 'Discovery', 'Identity', 'Messaging', 'Commerce', 'Data', 'Platform', 'Growth'];
const MANAGERS = ['Amira Haddad', 'Jonas Richter', 'Priya Nair', 'Tomasz Kowal', 'Lucia Fernandes', 'Kenji Sato', 'Olga Petrova', 'Samuel Okoro'];
const CAUSES = [
  ['an expired TLS certificate on the ingress', 'renew the certificate with cert-manager and restart the ingress pods'],
  ['connection pool exhaustion towards the database', 'raise the pool limit temporarily and find the slow query in pg_stat_activity'],
  ['a consumer group stuck after a rebalance', 'reset the stuck partitions with the consumer-group tool and watch the lag fall'],
  ['a full disk on the log volume', 'delete rotated logs older than three days and expand the volume'],
  ['a bad feature flag rollout', 'switch the flag off in the feature-flags console and confirm error rates drop'],
  ['rate limiting by the upstream provider', 'enable the backoff mode and ask the provider for a quota increase'],
  ['DNS resolution failures inside the cluster', 'restart CoreDNS and check the node-local DNS cache'],
  ['a memory leak introduced by the latest deploy', 'roll back to the previous Argo CD revision and open a bug'],
  ['clock skew on the nodes', 'restart chrony on the affected nodes and check NTP reachability'],
  ['a schema migration holding a table lock', 'cancel the migration job and reschedule it outside peak hours'],
  ['a cache stampede after a Redis failover', 'enable request coalescing and warm the cache from the last snapshot'],
  ['an exhausted API quota for the cloud region', 'move traffic to the other region and file a quota request'],
];
const camel = (name) => name.split('-').map((p) => p[0].toUpperCase() + p.slice(1)).join('');

const documents = [];
const facts = [];
SERVICES.forEach(([name, purpose, dependency], i) => {
  const team = TEAMS[i % TEAMS.length];
  const manager = MANAGERS[(i * 3) % MANAGERS.length];
  const [cause, fix] = CAUSES[(i * 5) % CAUSES.length];
  const port = 8000 + i * 7;
  const alert = `${camel(name)}${['HighErrorRate', 'SlowResponses', 'QueueBacklog'][i % 3]}`;
  const metric = ['the 5xx error ratio', 'the p99 latency', 'the queue depth'][i % 3];
  const threshold = ['2 percent', `${400 + i * 25} milliseconds`, `${1000 * (1 + (i % 5))} messages`][i % 3];
  const minutes = 5 + (i % 3) * 5;
  const escalateAfter = [15, 30, 45][i % 3];
  const namespace = `${team.toLowerCase()}-prod`;
  const f = { name, team, manager, cause, fix, port, alert, threshold, escalateAfter, namespace, restricted: RESTRICTED.has(name) };
  facts.push(f);
  documents.push({
    id: `rb-${name}`,
    title: `${name} runbook`,
    acl: f.restricted ? ['sre'] : [],
    sections: {
      Overview: `${name} ${purpose}. It is owned by the ${team} team, runs in the ${namespace} namespace and listens on port ${port}. Its main dependency is ${dependency}.`,
      Alerts: `The ${alert} alert fires when ${metric} of ${name} stays above ${threshold} for ${minutes} minutes. It links to the ${name} overview dashboard in Grafana.`,
      Diagnosis: `The most common cause of ${name} incidents is ${cause}. Compare the start of the alert with recent deploys, then check the ${name} logs in Kibana for the first error.`,
      Remediation: `To recover ${name}, ${fix}. If that does not help, restart it with kubectl -n ${namespace} rollout restart deployment/${name} and watch the dashboard for ten minutes.`,
      Escalation: `Page the ${team} on-call rotation in PagerDuty first. If ${name} is not mitigated within ${escalateAfter} minutes, escalate to ${manager}, the ${team} engineering manager.`,
    },
  });
});

const TEMPLATES = [
  (f) => [`Which port does ${f.name} listen on?`, 'Overview'],
  (f) => [`The ${f.alert} alert is firing. What is the usual root cause?`, 'Diagnosis'],
  (f) => [`How do I restart ${f.name} in production?`, 'Remediation'],
  (f) => [`${f.name} has been down for ${f.escalateAfter} minutes, who do I escalate to?`, 'Escalation'],
  (f) => [`What threshold triggers the ${f.alert} alert?`, 'Alerts'],
  (f) => [`Which team owns ${f.name} and what does it depend on?`, 'Overview'],
];
const questions = [];
facts.forEach((f, i) => {
  for (const t of [i % TEMPLATES.length, (i + 3) % TEMPLATES.length].slice(0, i < 12 ? 2 : 1)) {
    const [question, section] = TEMPLATES[t](f);
    // Restricted runbooks are asked about by members (found) and by non-members (must stay hidden).
    const groups = f.restricted ? (t % 2 === 0 ? ['sre'] : ['engineering']) : ['engineering'];
    const label = { documentId: `rb-${f.name}`, section };
    // A non-member's answer is hidden: nothing readable answers, so retrieval should abstain, and
    // returning the label would be a leak (counted by the eval), not a hit.
    const readable = !f.restricted || groups.includes('sre');
    questions.push({ id: `rb-${questions.length + 1}`, question, groups, ...(readable ? { relevant: [label] } : { relevant: [], hiddenRelevant: [label] }) });
  }
});
writeFileSync(join(here, 'runbooks.json'), `${JSON.stringify(documents, null, 2)}\n`);
writeFileSync(join(here, 'runbook-questions.json'), `${JSON.stringify(questions, null, 2)}\n`);
console.log(`wrote ${documents.length} runbooks and ${questions.length} questions`);
