// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU): the reference runtime of cquant's
// tests and of the model zoo. Takes .npy inputs of any common element type (float32, float16,
// float64, int8..int64, uint8..uint64, bool) and writes every output as OUTDIR/NAME.npy ('/' and '\'
// in a name become '_', as `cquant run` does). Prints one JSON line on stdout:
// {"session_ms": .., "run_ms": [..]} (session creation, then every run).
//   node tools/ort/run.js MODEL.onnx OUTDIR [--threads T] [--repeat R] [--opt disabled|basic|extended|all]
//        NAME=FILE.npy [...]
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const TYPES = {  // .npy descr (without byte order) -> [ort type, typed array]
  f4: ['float32', Float32Array], f2: ['float16', Uint16Array], f8: ['float64', Float64Array],
  i8: ['int64', BigInt64Array], i4: ['int32', Int32Array], i2: ['int16', Int16Array], i1: ['int8', Int8Array],
  u1: ['uint8', Uint8Array], b1: ['bool', Uint8Array], u2: ['uint16', Uint16Array], u4: ['uint32', Uint32Array],
  u8: ['uint64', BigUint64Array],
};

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + hlen);
  const m = /'descr':\s*'([<|=])([a-z]\d)'/.exec(header);
  if (!m || !TYPES[m[2]]) throw new Error(`${file}: element type ${m ? m[2] : '?'} not supported`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order not supported`);
  const shape = (header.match(/'shape':\s*\(([^)]*)\)/)[1].match(/\d+/g) || []).map(Number);
  const [type, Arr] = TYPES[m[2]];
  const raw = b.buffer.slice(b.byteOffset + start + hlen, b.byteOffset + b.length);
  return new ort.Tensor(type, new Arr(raw), shape);
}

function writeNpy(file, t) {
  const descr = { float32: '<f4', float16: '<f2', float64: '<f8', int64: '<i8', int32: '<i4', int16: '<i2', int8: '|i1',
                  uint8: '|u1', bool: '|b1', uint16: '<u2', uint32: '<u4', uint64: '<u8' }[t.type];
  if (!descr) throw new Error(`output type ${t.type} not supported`);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = Math.ceil((10 + h.length + 1) / 64) * 64;
  h = h + ' '.repeat(total - 10 - h.length - 1) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(h.length, 8);
  let d = t.data;
  if (t.type === 'bool' && !(d instanceof Uint8Array)) d = Uint8Array.from(d, (v) => (v ? 1 : 0));
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(h, 'latin1'), Buffer.from(d.buffer, d.byteOffset, d.byteLength)]));
}

(async () => {
  const argv = process.argv.slice(2);
  const [model, outdir] = argv;
  let threads = 1, repeat = 1, opt = 'all';
  const feeds = {};
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--threads') threads = Number(argv[++i]);
    else if (argv[i] === '--repeat') repeat = Math.max(1, Number(argv[++i]));
    else if (argv[i] === '--opt') opt = argv[++i];  // graph optimization level: disabled, basic, extended, all
    else {
      const k = argv[i].indexOf('=');
      if (k <= 0) throw new Error(`expected NAME=FILE.npy, got '${argv[i]}'`);
      feeds[argv[i].slice(0, k)] = readNpy(argv[i].slice(k + 1));
    }
  }
  let t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: opt });
  const sessionMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const runMs = [];
  let out;
  for (let r = 0; r < repeat; r++) {
    t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    runMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  for (const name of session.outputNames) writeNpy(path.join(outdir, name.replace(/[\/\\]/g, '_') + '.npy'), out[name]);
  console.log(JSON.stringify({ session_ms: sessionMs, run_ms: runMs }));
})().catch((e) => { console.error(`ort: ${e.message}`); process.exit(1); });
