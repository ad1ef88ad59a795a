/**
 * Encoder worker thread: one LocalEncoder (its own ONNX session) per thread. Receives texts,
 * returns packed vectors with their buffers transferred. Started by WorkerPoolEncoder.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.js';
import { LocalEncoder } from './local.js';
import { pack, type FromWorker, type ToWorker, type WorkerInit } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('encoder worker.ts must run in a worker thread');

const init = workerData as WorkerInit;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

async function main() {
  const log = createLogger(init.logLevel ?? 'info');
  let enc: LocalEncoder;
  try {
    enc = await LocalEncoder.create({ ...init, log });
  } catch (e) {
    const err = e as Error & { file?: string };
    post({ type: 'init-error', name: err.name, message: err.message, file: err.file });
    return;
  }
  post({ type: 'ready', device: enc.device });
  port!.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      void enc.close().finally(() => port!.close());
      return;
    }
    enc.encodeWithStats(m.texts, m.mode, m.options).then(
      ({ vectors, stats }) => {
        const packed = pack(vectors);
        post({ type: 'result', id: m.id, packed, stats }, [packed.offsets.buffer as ArrayBuffer, packed.indices.buffer as ArrayBuffer, packed.values.buffer as ArrayBuffer]);
      },
      (e: Error) => post({ type: 'error', id: m.id, name: e.name, message: e.message }),
    );
  });
}

void main();
