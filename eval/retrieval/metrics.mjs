// Ranking metrics over labels of the form {documentId, section?}: a passage matches a label when it
// comes from that document and (if a section is named) from a section path containing it. Each label
// counts once, at the first passage that matches it.

const matches = (passage, label) =>
  passage.documentId === label.documentId && (!label.section || (passage.sectionPath ?? '').split(' > ').includes(label.section));

/** Labels matched by any of the passages. */
export function labelsHit(passages, labels) {
  const hit = new Set();
  for (const p of passages) labels.forEach((l, i) => matches(p, l) && hit.add(i));
  return hit;
}

/** Share of the labels found in the first k passages. */
export function recallAt(passages, labels, k) {
  return labelsHit(passages.slice(0, k), labels).size / labels.length;
}

/** 1 / rank of the first passage matching any label, within k; 0 when none does. */
export function reciprocalRankAt(passages, labels, k) {
  const index = passages.slice(0, k).findIndex((p) => labels.some((l) => matches(p, l)));
  return index < 0 ? 0 : 1 / (index + 1);
}

/** Binary-gain nDCG@k where each label gains once. */
export function ndcgAt(passages, labels, k) {
  const seen = new Set();
  let dcg = 0;
  passages.slice(0, k).forEach((p, rank) => {
    const label = labels.findIndex((l, i) => !seen.has(i) && matches(p, l));
    if (label < 0) return;
    seen.add(label);
    dcg += 1 / Math.log2(rank + 2);
  });
  let ideal = 0;
  for (let rank = 0; rank < Math.min(k, labels.length); rank++) ideal += 1 / Math.log2(rank + 2);
  return dcg / ideal;
}

/** Passages the asker may not read: another tenant's, or a document whose ACL shares none of their groups. */
export function leakedPassages(passages, asker, documents) {
  return passages.filter((p) => {
    const doc = documents.get(`${asker.tenant}/${p.documentId}`);
    if (!doc || doc.collection !== p.collection) return true;
    if (!p.text || !Object.values(doc.sections).some((t) => t.includes(p.text.slice(0, 40)))) return true;
    return doc.acl.length > 0 && !doc.acl.some((g) => asker.groups.includes(g));
  }).length;
}
