/* libFuzzer target: the ONNX model reader, the executor and the QDQ -> integer rewrite. Whatever
 * loads is run on inputs made from its declared types and shapes, as written and in its integer form
 * (fuzz/onnx_mutate.c); the bytes are also read as a TensorProto. A failure without a message or one
 * that leaves outputs allocated traps. LLVMFuzzerCustomMutator mutates the decoded ModelProto
 * (structure-aware, fuzz/onnx_mutate.c) and falls back to libFuzzer's byte mutations.
 * The suite builds this file with LLVMFuzzerTestOneInput renamed to cquant_fuzz_onnx to replay
 * fuzz/regressions/fuzz_onnx/ (tests/test_onnx_fuzz.c); the mutator is then left out. */
#include <stdint.h>
#include <stdio.h>
#include "cquant/cquant.h"
#include "onnx_mutate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  if (!init) cquant_fuzz_onnx_limits(), init = 1;
  const char *why;
  if (cquant_fuzz_onnx_exec(data, size, NULL, &why)) {
    fprintf(stderr, "fuzz_onnx: %s (%s)\n", why, cquant_last_error());
    __builtin_trap();
  }
  cquant_array_t a;
  if (cquant_tensorproto_parse(data, size, &a, NULL) == 0) cquant_array_free(&a);
  return 0;
}

#ifndef LLVMFuzzerTestOneInput /* the libFuzzer build */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  if (seed % 8) { /* seven in eight structure-aware */
    const size_t n = cquant_fuzz_onnx_mutate(data, size, max_size, seed);
    if (n) return n;
  }
  return LLVMFuzzerMutate(data, size, max_size);
}
#endif
