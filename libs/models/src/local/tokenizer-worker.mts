// Runs inside a worker_thread started by LocalTokenizer: the GGUF's vocabulary only (no weights),
// so the main thread can count tokens exactly with the model's own tokenizer. Node runs this file
// directly from src (type stripping) and as compiled tokenizer-worker.mjs from dist.
// Protocol: workerData carries the model path, a MessagePort and a shared Int32Array. The parent
// is told `{ ready: true }` (or `{ error }`) once loaded; then for each text posted on the port the
// worker posts back its token count and sets signal[0] to 1, which wakes the waiting caller.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

interface TokenizerWorkerData {
  readonly modelPath: string;
  readonly port: MessagePort;
  readonly signal: Int32Array;
}

const parent = parentPort;
if (parent === null) throw new Error('tokenizer-worker.mts must run inside a worker_thread');
const { modelPath, port, signal } = workerData as TokenizerWorkerData;

try {
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
  });
  const model = await llama.loadModel({ modelPath, vocabOnly: true });
  port.on('message', (text: string) => {
    let count: number;
    try {
      count = model.tokenize(text).length;
    } catch {
      count = -1;
    }
    port.postMessage(count);
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
  });
  parent.postMessage({ ready: true });
} catch (error) {
  parent.postMessage({ error: error instanceof Error ? error.message : String(error) });
}
