// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU) on float32 .npy inputs and writes
// every output as OUTDIR/NAME.npy: the reference runtime of cquant's tests.
//   node tools/ort/run.js MODEL.onnx OUTDIR NAME=FILE.npy [...]
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + hlen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${file}: float32 only`);
  const shape = (header.match(/'shape':\s*\(([^)]*)\)/)[1].match(/\d+/g) || []).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + start + hlen, b.byteOffset + b.length));
  return new ort.Tensor('float32', data, shape);
}

function writeNpy(file, t) {
  const descr = { float32: '<f4', int64: '<i8', int32: '<i4', uint8: '|u1', int8: '|i1' }[t.type];
  if (!descr) throw new Error(`output type ${t.type} not supported`);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = Math.ceil((10 + h.length + 1) / 64) * 64;
  h = h + ' '.repeat(total - 10 - h.length - 1) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(h.length, 8);
  const d = t.data;
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(h, 'latin1'), Buffer.from(d.buffer, d.byteOffset, d.byteLength)]));
}

(async () => {
  const [model, outdir, ...pairs] = process.argv.slice(2);
  const feeds = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    feeds[p.slice(0, i)] = readNpy(p.slice(i + 1));
  }
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const out = await session.run(feeds);
  for (const name of session.outputNames) writeNpy(path.join(outdir, name.replace(/[\/\\]/g, '_') + '.npy'), out[name]);
})().catch((e) => { console.error(`ort: ${e.message}`); process.exit(1); });
