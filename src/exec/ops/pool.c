/* Pooling: MaxPool, AveragePool, GlobalAveragePool (float32, and 8-bit max pooling). Checked
 * against ONNX Runtime (tests/ort_compare.py). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/intops.h"
#include "intops/intops.h"
#include "exec/exec_internal.h"

/* MaxPool, AveragePool (kernel_shape, strides, pads, count_include_pad), GlobalAveragePool. */
int cquant__op_pool(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  int st;
  const int global = !strcmp(node->op_type, "GlobalAveragePool"), is_max = !strcmp(node->op_type, "MaxPool");
  const int int8 = in[0] && is_max && (in[0]->dtype == CQUANT_DT_U8 || in[0]->dtype == CQUANT_DT_S8); /* MaxPool-12 */
  if (!int8 && (st = cquant__need_f32(node, in[0], "X"))) return st;
  const cquant_array_t *x = in[0];
  if (x->ndim != 4) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "2-D pooling (4-D input) only");
  const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  int64_t kh = H, kw = W, sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  const Onnx__AttributeProto *a;
  if (!global) {
    if (!(a = cquant__attr(node, "kernel_shape")) || a->n_ints != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "kernel_shape needs 2 values");
    kh = a->ints[0]; kw = a->ints[1];
    if ((a = cquant__attr(node, "strides")) && a->n_ints == 2) { sh = a->ints[0]; sw = a->ints[1]; }
    if ((a = cquant__attr(node, "pads")) && a->n_ints == 4) { pt = a->ints[0]; pl = a->ints[1]; pb = a->ints[2]; pr = a->ints[3]; }
    if ((a = cquant__attr(node, "auto_pad")) && a->has_s && a->s.len && strncmp((const char *)a->s.data, "NOTSET", a->s.len))
      return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "auto_pad is not supported for pooling yet");
    if (cquant__attr_int(node, "ceil_mode", 0)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "ceil_mode=1 is not supported yet");
    if ((a = cquant__attr(node, "dilations")) && a->n_ints == 2 && (a->ints[0] != 1 || a->ints[1] != 1))
      return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "pooling dilations are not supported yet");
  }
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "bad kernel or strides");
  const int include_pad = (int)cquant__attr_int(node, "count_include_pad", 0);
  const int64_t oh = (H + pt + pb - kh) / sh + 1, ow = (W + pl + pr - kw) / sw + 1;
  if (oh < 1 || ow < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the window does not fit");
  int64_t shape[4] = {N, C, oh, ow};
  if ((st = cquant_array_alloc(&out[0], int8 ? x->dtype : CQUANT_DT_F32, 4, shape))) return st;
  if (int8) { /* max commutes with the monotone quantization: the integers are pooled as they are */
    int64_t oh2, ow2;
    if ((st = cquant_qpool2d(x->data, x->dtype == CQUANT_DT_S8, N, C, H, W, kh, kw, sh, sw, pt, pl, pb, pr, 0, out[0].data, &oh2, &ow2)))
      cquant_array_free(&out[0]);
    return st;
  }
  const float *xd = x->data;
  float *y = out[0].data;
  for (int64_t p = 0; p < N * C; p++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++) {
        float best = -INFINITY, sum = 0;
        int64_t cnt = 0, ky0, ky1, kx0, kx1;
        cquant__pool_taps(oy, sh, pt, kh, H, &ky0, &ky1);
        cquant__pool_taps(ox, sw, pl, kw, W, &kx0, &kx1);
        for (int64_t ky = ky0; ky < ky1; ky++) {
          const int64_t iy = oy * sh - pt + ky;
          for (int64_t kx = kx0; kx < kx1; kx++) {
            const int64_t ix = ox * sw - pl + kx;
            const float v = xd[(p * H + iy) * W + ix];
            best = v > best ? v : best;
            sum += v;
            cnt++;
          }
        }
        y[(p * oh + oy) * ow + ox] = is_max ? best : sum / (float)(include_pad ? kh * kw : cnt);
      }
  return CQUANT_STATUS_OK;
}
