import type { OutgoingRecord } from './transport';

/** One caller's records, settled once the send that carries them is acknowledged or fails. */
interface Pending {
  readonly records: readonly OutgoingRecord[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface ProduceBatcherOptions {
  /** Sends one batch; resolves once every record of it is acknowledged. */
  readonly send: (records: readonly OutgoingRecord[]) => Promise<void>;
  /**
   * Most bytes (values, keys and headers, UTF-8) merged into one send (default 256 KiB). A single
   * call larger than this is still sent, alone: calls are never split.
   */
  readonly maxBatchBytes?: number;
  /** Most records merged into one send (default 500); a single call with more is sent alone. */
  readonly maxBatchRecords?: number;
}

const DEFAULT_MAX_BATCH_BYTES = 256 * 1024;
const DEFAULT_MAX_BATCH_RECORDS = 500;

/** The bytes a record adds to a produce request, near enough to bound a batch (UTF-8 lengths). */
function recordBytes(record: OutgoingRecord): number {
  let bytes =
    Buffer.byteLength(record.key) +
    (typeof record.value === 'string' ? Buffer.byteLength(record.value) : record.value.length);
  for (const [name, value] of Object.entries(record.headers)) bytes += name.length + Buffer.byteLength(value);
  return bytes;
}

/**
 * Merges produce calls into fewer sends, as Kafka's Java producer does with `linger.ms`, but
 * without a timer: a call made while no send is in flight is sent at once (no added latency at low
 * rates); calls made while one is in flight wait for it and then go out together in the next send.
 * Under load this turns one produce request per consumed message into one per burst.
 *
 * Delivery is unchanged for each caller: its promise resolves only once the send carrying all of
 * its records is acknowledged, and rejects with that send's error otherwise (so a caller commits
 * its input only after its outputs are durable, and a failed send leaves every caller's input
 * uncommitted). Records keep the order of the calls, and a call's records are never split across
 * sends; one send is in flight at a time, so a later call's records never overtake an earlier one's.
 */
export class ProduceBatcher {
  private readonly queue: Pending[] = [];
  private sending = false;
  private readonly maxBatchBytes: number;
  private readonly maxBatchRecords: number;

  constructor(private readonly options: ProduceBatcherOptions) {
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.maxBatchRecords = options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS;
  }

  /** Resolves once `records` are acknowledged (in this call's send or a merged one). */
  produce(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const bytes = records.reduce((sum, r) => sum + recordBytes(r), 0);
      this.queue.push({ records, bytes, resolve, reject });
      if (!this.sending) void this.drain();
    });
  }

  /** Sends queued calls, one merged batch at a time, until none are left. */
  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.take();
        const records = batch.length === 1 ? batch[0].records : batch.flatMap((p) => p.records);
        try {
          await this.options.send(records);
          for (const pending of batch) pending.resolve();
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.sending = false;
    }
  }

  /** The longest prefix of the queue within the bounds (at least one call). */
  private take(): Pending[] {
    let bytes = 0;
    let count = 0;
    let n = 0;
    while (n < this.queue.length) {
      const next = this.queue[n];
      if (
        n > 0 &&
        (bytes + next.bytes > this.maxBatchBytes || count + next.records.length > this.maxBatchRecords)
      )
        break;
      bytes += next.bytes;
      count += next.records.length;
      n += 1;
    }
    return this.queue.splice(0, n);
  }
}
