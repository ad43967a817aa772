// Top-1 accuracy and latency of an ONNX classifier in ONNX Runtime (onnxruntime-node, CPU) on
// Debian's Fashion-MNIST, normalised as cquant does it: the reference beside `cquant eval`.
//   node tools/ort/eval.js MODEL.onnx [--split test|train] [--n N] [--batch B] [--mean M --std S]
//        [--threads T] [--predictions OUT.bin] [--compare PRED.bin]
// mean/std default to the model's metadata (cquant.mean / cquant.std). --predictions writes each
// predicted class as one byte; --compare reports the share of samples whose class equals PRED.bin's.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const ort = require('onnxruntime-node');

function idx(path) {
  let b = fs.readFileSync(path);
  if (b[0] === 0x1f && b[1] === 0x8b) b = zlib.gunzipSync(b);
  const nd = b[3];
  const dims = [];
  for (let i = 0; i < nd; i++) dims.push(b.readUInt32BE(4 + 4 * i));
  return { dims, data: b.subarray(4 + 4 * nd) };
}

(async () => {
  const argv = process.argv.slice(2);
  const model = argv[0];
  const opt = { split: 'test', n: 0, batch: 100, threads: 1 };
  for (let i = 1; i < argv.length; i += 2) opt[argv[i].replace(/^--/, '')] = argv[i + 1];
  const dir = '/usr/share/datasets/fashion-mnist';
  const p = opt.split === 'train' ? 'train' : 't10k';
  const im = idx(`${dir}/${p}-images-idx3-ubyte.gz`);
  const lb = idx(`${dir}/${p}-labels-idx1-ubyte.gz`);
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: Number(opt.threads), interOpNumThreads: 1 });
  let mean = 0, std = 1;
  const meta = session.handler && session.handler.metadata ? session.handler.metadata : null;
  const onnxMeta = fs.readFileSync(model).toString('latin1');
  const mm = /cquant\.mean\x12.([0-9.eE+-]+)/.exec(onnxMeta), ms = /cquant\.std\x12.([0-9.eE+-]+)/.exec(onnxMeta);
  if (mm) mean = Number(mm[1]);
  if (ms) std = Number(ms[1]);
  if (opt.mean !== undefined) mean = Number(opt.mean);
  if (opt.std !== undefined) std = Number(opt.std);
  void meta;
  const total = Number(opt.n) > 0 ? Math.min(Number(opt.n), im.dims[0]) : im.dims[0];
  const per = im.dims[1] * im.dims[2];
  const B = Number(opt.batch);
  const pred = new Uint8Array(total);
  let correct = 0;
  const input = session.inputNames[0], output = session.outputNames[0];
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < total; s += B) {
    const bs = Math.min(B, total - s);
    const x = new Float32Array(bs * per);
    for (let i = 0; i < bs * per; i++) x[i] = (im.data[s * per + i] / 255 - mean) / std;
    const out = await session.run({ [input]: new ort.Tensor('float32', x, [bs, 1, im.dims[1], im.dims[2]]) });
    const y = out[output].data, classes = y.length / bs;
    for (let i = 0; i < bs; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (y[i * classes + c] > y[i * classes + best]) best = c;
      pred[s + i] = best;
      if (best === lb.data[s + i]) correct++;
    }
  }
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / total;
  let line = `onnxruntime ${require('onnxruntime-node/package.json').version} ${model}: top-1 ${(100 * correct / total).toFixed(2)}% ` +
             `(${correct} of ${total}), ${us.toFixed(1)} us per sample (batches of ${B}, ${opt.threads} threads)`;
  if (opt.predictions) fs.writeFileSync(opt.predictions, pred);
  if (opt.compare) {
    const other = fs.readFileSync(opt.compare);
    let same = 0;
    for (let i = 0; i < total; i++) same += other[i] === pred[i] ? 1 : 0;
    line += `; same class as ${opt.compare}: ${(100 * same / total).toFixed(2)}% (${same} of ${total})`;
  }
  console.log(line);
})().catch((e) => { console.error(`ort: ${e.message}`); process.exit(1); });
