/* libFuzzer target: the ONNX model reader and the QDQ -> integer rewrite; whatever loads is run on zero-filled inputs of the
 * declared types would need shapes, so it is only loaded and freed (the suite's mutation test runs
 * corrupted models on real inputs). */
#include <stdint.h>
#include "cquant/cquant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cquant_onnx_model_t *m;
  if (cquant_onnx_load_buffer(data, size, &m) == 0) {
    cquant_onnx_model_t *im; /* the QDQ -> integer rewrite must take any loadable graph */
    if (cquant_onnx_integerize(m, &im, NULL) == 0) cquant_onnx_free(im);
    cquant_onnx_free(m);
  }
  cquant_array_t a;
  if (cquant_tensorproto_parse(data, size, &a, NULL) == 0) cquant_array_free(&a);
  return 0;
}
