// Scoring of PII detection against the labelled records of this folder.
// A labelled entity is found when spans of its type cover at least half of its characters; a
// detected span is correct when it overlaps a labelled entity of its type. Near misses are
// labelled strings that must not be masked: any span overlapping one counts against it.

/** Every occurrence of each labelled string, longest first so "Maria" inside "Maria Schneider" is not a second entity. */
export function goldSpans(record) {
  const spans = [];
  const entries = [...record.entities].sort((a, b) => b.text.length - a.text.length);
  for (const entity of entries) {
    let from = 0;
    for (;;) {
      const start = record.text.indexOf(entity.text, from);
      if (start < 0) break;
      const end = start + entity.text.length;
      from = end;
      if (!spans.some((s) => s.start < end && start < s.end)) spans.push({ type: entity.type, start, end });
    }
  }
  return spans;
}

/** Occurrences of the record's near misses. */
export function nearMissSpans(record) {
  return (record.nearMisses ?? []).flatMap((text) => {
    const start = record.text.indexOf(text);
    return start < 0 ? [] : [{ start, end: start + text.length, text }];
  });
}

const overlaps = (a, b) => a.start < b.end && b.start < a.end;

function covered(gold, spans) {
  let chars = 0;
  for (let i = gold.start; i < gold.end; i++) if (spans.some((s) => s.start <= i && i < s.end)) chars++;
  return chars / (gold.end - gold.start);
}

/** Adds one record's outcome to `tally` (per type: tp, fn, fp; plus near misses hit and raw leaks). */
export function score(record, detected, tally) {
  const gold = goldSpans(record);
  const row = (type) => (tally.types[type] ??= { tp: 0, fn: 0, fp: 0, correct: 0 });
  for (const g of gold) {
    const sameType = detected.filter((d) => d.type === g.type);
    if (covered(g, sameType) >= 0.5) row(g.type).tp++;
    else {
      row(g.type).fn++;
      tally.misses.push(`${record.id} ${g.type} ${JSON.stringify(record.text.slice(g.start, g.end))}`);
    }
    if (covered(g, detected) < 1) tally.leaks++;
  }
  for (const d of detected) {
    if (gold.some((g) => g.type === d.type && overlaps(g, d))) row(d.type).correct++;
    else {
      row(d.type).fp++;
      tally.falsePositives.push(`${record.id} ${d.type} ${JSON.stringify(d.text)}`);
    }
  }
  for (const n of nearMissSpans(record)) {
    tally.nearMisses++;
    if (detected.some((d) => overlaps(d, n))) tally.nearMissesHit++;
  }
  tally.entities += gold.length;
}

export function newTally() {
  return {
    types: {},
    misses: [],
    falsePositives: [],
    leaks: 0,
    entities: 0,
    nearMisses: 0,
    nearMissesHit: 0,
  };
}

/** Precision and recall of one row of counts. */
export function rates({ tp, fn, fp, correct }) {
  return {
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
    precision: correct + fp === 0 ? 1 : correct / (correct + fp),
  };
}

/** Sums of all types. */
export function overall(tally) {
  const sum = { tp: 0, fn: 0, fp: 0, correct: 0 };
  for (const row of Object.values(tally.types)) for (const k of Object.keys(sum)) sum[k] += row[k];
  return sum;
}
