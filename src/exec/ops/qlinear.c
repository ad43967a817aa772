/* MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv: int32 accumulation with zero-points
 * (src/intops), and for the QLinear forms the float requantization ONNX Runtime uses: the int32
 * accumulator times (S_a S_b / S_y) in float32, rounded half to even, plus Z_y, saturated
 * (docs/quantization.md, eq. 23). Also the com.microsoft operators of ONNX Runtime's QLinear form
 * (QGemm, QLinearAdd, QLinearGlobalAveragePool, NhwcMaxPool; QLinearConv with channels_last is
 * QLinearConv here), with ONNX Runtime's semantics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/intops.h"
#include "intops/intops.h"
#include "exec/exec_internal.h"

static int is8(const cquant_array_t *a) { return a && (a->dtype == CQUANT_DT_U8 || a->dtype == CQUANT_DT_S8); }

/* ---- matmul ----------------------------------------------------------------------------------- */

typedef struct {
  int64_t M, N, K, batches;
  int ndim;
  int64_t shape[CQUANT_MAX_DIMS];
  int a_vec, b_vec; /* 1-D operands */
  int64_t bshape[CQUANT_MAX_DIMS], astride[CQUANT_MAX_DIMS], bstride[CQUANT_MAX_DIMS];
  int nb; /* batch rank */
} mm_t;

/* numpy.matmul shapes: batch dimensions broadcast, 1-D operands are promoted and dropped again. */
static int mm_shape(const Onnx__NodeProto *node, const cquant_array_t *a, const cquant_array_t *b, mm_t *p) {
  memset(p, 0, sizeof *p);
  if (a->ndim < 1 || b->ndim < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "operands must have at least 1 dimension");
  p->a_vec = a->ndim == 1;
  p->b_vec = b->ndim == 1;
  p->M = p->a_vec ? 1 : a->shape[a->ndim - 2];
  p->K = a->shape[a->ndim - 1];
  int64_t kb = p->b_vec ? b->shape[0] : b->shape[b->ndim - 2];
  p->N = p->b_vec ? 1 : b->shape[b->ndim - 1];
  if (kb != p->K) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inner dimensions differ: %lld vs %lld", (long long)p->K, (long long)kb);
  int ra = p->a_vec ? 0 : a->ndim - 2, rb = p->b_vec ? 0 : b->ndim - 2;
  p->nb = ra > rb ? ra : rb;
  int64_t sa = p->M * p->K, sb = p->K * p->N;
  for (int i = p->nb - 1; i >= 0; i--) {
    int ia = i - (p->nb - ra), ib = i - (p->nb - rb);
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    if (da != db && da != 1 && db != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "batch dimensions %lld and %lld do not broadcast", (long long)da, (long long)db);
    p->bshape[i] = da > db ? da : db;
    p->astride[i] = da == 1 ? 0 : sa;
    p->bstride[i] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
  }
  p->batches = 1;
  for (int i = 0; i < p->nb; i++) {
    p->shape[p->ndim++] = p->bshape[i];
    p->batches *= p->bshape[i];
  }
  if (!p->a_vec) p->shape[p->ndim++] = p->M;
  if (!p->b_vec) p->shape[p->ndim++] = p->N;
  return CQUANT_STATUS_OK;
}

/* Element offsets of batch t in A and B. */
static void mm_offsets(const mm_t *p, int64_t t, int64_t *oa, int64_t *ob) {
  *oa = *ob = 0;
  for (int i = p->nb - 1; i >= 0; i--) {
    int64_t c = t % p->bshape[i];
    t /= p->bshape[i];
    *oa += c * p->astride[i];
    *ob += c * p->bstride[i];
  }
}

/* Zero-points for a matmul operand: scalar, or `len` entries (per row of A, per column of B). */
static int mm_zp(const Onnx__NodeProto *node, const cquant_array_t *z, const cquant_array_t *x, int64_t len, const char *what,
                 int32_t **out, int *per) {
  int64_t n;
  cquant_dtype_t dt;
  int st = cquant__zero_points(node, z, what, out, &n, &dt);
  if (st) return st;
  if (z && z->dtype != x->dtype) {
    free(*out);
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s type differs from its operand", what);
  }
  if (n != 1 && n != len) {
    free(*out);
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s has %lld entries (1 or %lld expected)", what, (long long)n, (long long)len);
  }
  *per = n != 1;
  return CQUANT_STATUS_OK;
}

static int matmul_s32(const Onnx__NodeProto *node, const cquant_array_t *a, const cquant_array_t *b, const cquant_array_t *za_t,
                      const cquant_array_t *zb_t, cquant_array_t *acc, mm_t *p) {
  if (!is8(a) || !is8(b)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "operands must be uint8 or int8");
  int st = mm_shape(node, a, b, p);
  if (st) return st;
  int32_t *za, *zb;
  int pa, pb;
  if ((st = mm_zp(node, za_t, a, p->M, "a_zero_point", &za, &pa))) return st;
  if ((st = mm_zp(node, zb_t, b, p->N, "b_zero_point", &zb, &pb))) { free(za); return st; }
  /* a 2-D B read by every batch of A (a weight: x W over [batch, seq, K]) with one zero-point of A:
   * the batches are consecutive rows of one (batches M) x K operand, packed and multiplied once */
  const int fold = b->ndim == 2 && !p->a_vec && !pa && p->batches > 1;
  if (!(st = cquant_array_alloc(acc, CQUANT_DT_S32, p->ndim, p->shape)) && fold) {
    cquant_qgemm_weights_t *pw;
    if (!(st = cquant_qgemm_pack(b->data, b->dtype == CQUANT_DT_S8, p->K, p->N, p->N, zb, pb, &pw))) {
      st = cquant_qgemm(a->data, a->dtype == CQUANT_DT_S8, p->batches * p->M, p->K, za[0], pw, acc->data, p->N);
      cquant_qgemm_weights_free(pw);
    }
    if (st) cquant_array_free(acc);
  } else if (!st) {
    for (int64_t t = 0; t < p->batches && !st; t++) {
      int64_t oa, ob;
      mm_offsets(p, t, &oa, &ob);
      int32_t *c = (int32_t *)acc->data + t * p->M * p->N;
      if (pa) { /* per-row zero-points of A: the reference (the fast GEMM takes one) */
        cquant__qgemm_s32_ref(p->M, p->N, p->K, (const int8_t *)a->data + oa, a->dtype == CQUANT_DT_S8, p->K, za, pa,
                              (const int8_t *)b->data + ob, b->dtype == CQUANT_DT_S8, p->N, zb, pb, c, p->N);
        continue;
      }
      cquant_qgemm_weights_t *pw;
      if (!(st = cquant_qgemm_pack((const int8_t *)b->data + ob, b->dtype == CQUANT_DT_S8, p->K, p->N, p->N, zb, pb, &pw))) {
        st = cquant_qgemm((const int8_t *)a->data + oa, a->dtype == CQUANT_DT_S8, p->M, p->K, za[0], pw, c, p->N);
        cquant_qgemm_weights_free(pw);
      }
    }
    if (st) cquant_array_free(acc);
  }
  free(za);
  free(zb);
  return st;
}

int cquant__op_matmul_integer(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  mm_t p;
  return matmul_s32(node, in[0], in[1], n_in > 2 ? in[2] : NULL, n_in > 3 ? in[3] : NULL, &out[0], &p);
}

/* eq. 23: y = saturate(round_half_even((float)acc * m) + z), through the GEMM epilogue's loop (one
 * multiplier for every element). */
void cquant__requant_f(const int32_t *acc, int64_t n, float m, int32_t z, cquant_dtype_t dt, void *y) {
  const int sg = dt == CQUANT_DT_S8;
  const cquant_epilogue_t e = {CQUANT_EPI_REQUANT_F, NULL, 0, NULL, NULL, &m, NULL, z, sg, sg ? -128 : 0, sg ? 127 : 255};
  cquant__epilogue_row(&e, acc, n, y);
}

/* The requantization multipliers (ratios of scales, each finite and > 0) must be finite too: a
 * product or quotient that overflows would turn a zero accumulator into NaN in the epilogue. */
static int finite_mult(const Onnx__NodeProto *node, const float *m, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(m[i])) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the scales' ratio %g (the requantization multiplier) is not finite", m[i]);
  return CQUANT_STATUS_OK;
}

/* A scalar float scale and a scalar zero-point of a given type, for the QLinear outputs. */
int cquant__scalar_qp(const Onnx__NodeProto *node, const cquant_array_t *s, const cquant_array_t *z, const char *what, float *sv,
                     int32_t *zv, cquant_dtype_t *zdt) {
  const float *sp;
  int64_t ns, nz;
  int32_t *zp;
  int st = cquant__scales(node, s, what, &sp, &ns);
  if (st || (st = cquant__zero_points(node, z, what, &zp, &nz, zdt))) return st;
  if (ns != 1 || nz != 1) { free(zp); return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s must be per-tensor", what); }
  *sv = sp[0];
  *zv = zp[0];
  free(zp);
  return CQUANT_STATUS_OK;
}

int cquant__op_qlinear_matmul(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  float sa = 0, sb = 0, sy = 1;
  int32_t zy = 0, zdummy;
  cquant_dtype_t ydt, d;
  int st;
  if ((st = cquant__scalar_qp(node, in[1], in[2], "a_scale/a_zero_point", &sa, &zdummy, &d)) ||
      (st = cquant__scalar_qp(node, in[4], in[5], "b_scale/b_zero_point", &sb, &zdummy, &d)) ||
      (st = cquant__scalar_qp(node, in[6], in[7], "y_scale/y_zero_point", &sy, &zy, &ydt)))
    return st;
  if (ydt != CQUANT_DT_U8 && ydt != CQUANT_DT_S8) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "y_zero_point must be uint8 or int8");
  cquant_array_t acc;
  mm_t p;
  if ((st = matmul_s32(node, in[0], in[3], in[2], in[5], &acc, &p))) return st;
  const float m = sa * sb / sy;
  if ((st = finite_mult(node, &m, 1))) { cquant_array_free(&acc); return st; }
  if (!(st = cquant_array_alloc(&out[0], ydt, acc.ndim, acc.shape))) cquant__requant_f(acc.data, acc.numel, m, zy, ydt, out[0].data);
  cquant_array_free(&acc);
  return st;
}

/* ---- convolution ---------------------------------------------------------------------------- */

int cquant__conv_params(const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *w, cquant__conv2d_t *p) {
  memset(p, 0, sizeof *p);
  if (x->ndim != 4 || w->ndim != 4)
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "only 2-D convolution (4-D x and w) is supported, got %d-D x", x->ndim);
  p->n = x->shape[0]; p->c = x->shape[1]; p->h = x->shape[2]; p->w = x->shape[3];
  p->m = w->shape[0]; p->kh = w->shape[2]; p->kw = w->shape[3];
  p->group = cquant__attr_int(node, "group", 1);
  if (p->group < 1 || p->c % p->group || p->m % p->group || w->shape[1] != p->c / p->group)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "group %lld does not fit %lld input and %lld output channels (w has %lld per group)",
                              (long long)p->group, (long long)p->c, (long long)p->m, (long long)w->shape[1]);
  p->stride_h = p->stride_w = p->dil_h = p->dil_w = 1;
  const Onnx__AttributeProto *a;
  if ((a = cquant__attr(node, "strides"))) {
    if (a->n_ints != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "strides needs 2 values");
    p->stride_h = a->ints[0]; p->stride_w = a->ints[1];
  }
  if ((a = cquant__attr(node, "dilations"))) {
    if (a->n_ints != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "dilations needs 2 values");
    p->dil_h = a->ints[0]; p->dil_w = a->ints[1];
  }
  if ((a = cquant__attr(node, "kernel_shape")) && (a->n_ints != 2 || a->ints[0] != p->kh || a->ints[1] != p->kw))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "kernel_shape does not match w");
  const int64_t big = (int64_t)1 << 31; /* attribute values beyond this are refused (no overflow below) */
  if (p->stride_h < 1 || p->stride_w < 1 || p->dil_h < 1 || p->dil_w < 1 || p->stride_h > big || p->stride_w > big || p->dil_h > big ||
      p->dil_w > big)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "strides and dilations must be in [1, 2^31]");
  int64_t ekh, ekw;
  if (__builtin_mul_overflow(p->dil_h, p->kh - 1, &ekh) || __builtin_mul_overflow(p->dil_w, p->kw - 1, &ekw) || ekh >= big * big ||
      ekw >= big * big)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the dilated kernel is too large");
  ekh++, ekw++;
  a = cquant__attr(node, "auto_pad");
  char pad[16] = "NOTSET";
  if (a && a->has_s) {
    size_t l = a->s.len < sizeof pad - 1 ? a->s.len : sizeof pad - 1;
    memcpy(pad, a->s.data, l);
    pad[l] = 0;
  }
  if (!strcmp(pad, "NOTSET")) {
    if ((a = cquant__attr(node, "pads"))) {
      if (a->n_ints != 4) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "pads needs 4 values");
      p->pad_t = a->ints[0]; p->pad_l = a->ints[1]; p->pad_b = a->ints[2]; p->pad_r = a->ints[3];
      if (p->pad_t < 0 || p->pad_l < 0 || p->pad_b < 0 || p->pad_r < 0) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "negative pads");
      if (p->pad_t > big || p->pad_l > big || p->pad_b > big || p->pad_r > big)
        return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "pads past 2^31");
    }
    p->oh = (p->h + p->pad_t + p->pad_b - ekh) / p->stride_h + 1;
    p->ow = (p->w + p->pad_l + p->pad_r - ekw) / p->stride_w + 1;
  } else if (!strcmp(pad, "VALID")) {
    p->oh = (p->h - ekh) / p->stride_h + 1;
    p->ow = (p->w - ekw) / p->stride_w + 1;
  } else if (!strcmp(pad, "SAME_UPPER") || !strcmp(pad, "SAME_LOWER")) {
    p->oh = (p->h + p->stride_h - 1) / p->stride_h;
    p->ow = (p->w + p->stride_w - 1) / p->stride_w;
    int64_t th = (p->oh - 1) * p->stride_h + ekh - p->h, tw = (p->ow - 1) * p->stride_w + ekw - p->w;
    th = th > 0 ? th : 0;
    tw = tw > 0 ? tw : 0;
    int upper = !strcmp(pad, "SAME_UPPER");
    p->pad_t = upper ? th / 2 : th - th / 2; p->pad_b = th - p->pad_t;
    p->pad_l = upper ? tw / 2 : tw - tw / 2; p->pad_r = tw - p->pad_l;
  } else {
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "auto_pad '%s'", pad);
  }
  if (p->oh < 1 || p->ow < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the kernel does not fit the input");
  return CQUANT_STATUS_OK;
}

/* NHWC x seen with NCHW dimensions (only the shape is read by cquant__conv_params). */
static cquant_array_t nchw_view(const cquant_array_t *x) {
  cquant_array_t v = *x;
  if (x->ndim == 4) v.shape[1] = x->shape[3], v.shape[2] = x->shape[1], v.shape[3] = x->shape[2];
  return v;
}

static int conv_run(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *x, const cquant_array_t *w, const cquant_array_t *zx_t,
                    const cquant_array_t *zw_t, int w_idx, int zw_idx, const cquant_epilogue_t *e, cquant_dtype_t odt, cquant_array_t *acc,
                    cquant__conv2d_t *p) {
  if (!is8(x) || !is8(w)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "x and w must be uint8 or int8");
  const int nhwc = (int)cquant__attr_int(node, "channels_last", 0); /* com.microsoft.QLinearConv */
  const cquant_array_t xv = nhwc ? nchw_view(x) : *x;
  int st = cquant__conv_params(node, &xv, w, p);
  if (st) return st;
  int32_t *zx, *zw;
  int64_t nx, nw;
  cquant_dtype_t d;
  if ((st = cquant__zero_points(node, zx_t, "x_zero_point", &zx, &nx, &d))) return st;
  if ((st = cquant__zero_points(node, zw_t, "w_zero_point", &zw, &nw, &d))) { free(zx); return st; }
  if (nx != 1 || (nw != 1 && nw != p->m)) st = cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "zero points: x needs 1, w needs 1 or %lld", (long long)p->m);
  int64_t shape[4] = {p->n, p->m, p->oh, p->ow}, shape_nhwc[4] = {p->n, p->oh, p->ow, p->m};
  /* constant weights (initializers): packed once per model and node, kept in the node's cache */
  const cquant__qconv_packed_t *pk = NULL;
  cquant__qconv_packed_t *own = NULL;
  const int depthwise = p->c == p->group && p->m == p->group;
  if (!st && !depthwise && cquant__input_is_const(ctx, w_idx) && (!zw_t || cquant__input_is_const(ctx, zw_idx))) {
    if (!(pk = cquant__cache_get(ctx, w->data)) &&
        !(st = cquant__qconv2d_pack(p, nhwc, w->data, w->dtype == CQUANT_DT_S8, zw, nw != 1, &own)) &&
        (pk = cquant__cache_put(ctx, w->data, own, cquant__qconv2d_packed_free)))
      own = NULL; /* the model holds it now */
    if (own) pk = own;
  }
  if (!st && !(st = cquant_array_alloc(acc, odt, 4, nhwc ? shape_nhwc : shape)))
    st = cquant__qconv2d_ex2(p, nhwc, x->data, x->dtype == CQUANT_DT_S8, zx[0], w->data, w->dtype == CQUANT_DT_S8, zw, nw != 1, pk, e, acc->data);
  if (st) cquant_array_free(acc);
  cquant__qconv2d_packed_free(own);
  free(zx);
  free(zw);
  return st;
}

int cquant__op_conv_integer(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  cquant__conv2d_t p;
  return conv_run(ctx, node, in[0], in[1], n_in > 2 ? in[2] : NULL, n_in > 3 ? in[3] : NULL, 1, 3, NULL, CQUANT_DT_S32, &out[0], &p);
}

int cquant__op_qlinear_conv(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  float sx = 0, sy = 1;
  int32_t zx = 0, zy = 0;
  cquant_dtype_t d, ydt;
  int st;
  if ((st = cquant__scalar_qp(node, in[1], in[2], "x_scale/x_zero_point", &sx, &zx, &d)) ||
      (st = cquant__scalar_qp(node, in[6], in[7], "y_scale/y_zero_point", &sy, &zy, &ydt)))
    return st;
  if (ydt != CQUANT_DT_U8 && ydt != CQUANT_DT_S8) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "y_zero_point must be uint8 or int8");
  const float *sw;
  int64_t nsw;
  if ((st = cquant__scales(node, in[4], "w_scale", &sw, &nsw))) return st;
  if (!is8(in[0]) || !is8(in[3])) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "x and w must be uint8 or int8");
  cquant__conv2d_t p;
  const cquant_array_t xv = cquant__attr_int(node, "channels_last", 0) ? nchw_view(in[0]) : *in[0];
  if ((st = cquant__conv_params(node, &xv, in[3], &p))) return st;
  const cquant_array_t *bias = n_in > 8 ? in[8] : NULL;
  if (nsw != 1 && nsw != p.m) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "w_scale needs 1 or %lld entries", (long long)p.m);
  if (bias && (bias->dtype != CQUANT_DT_S32 || bias->numel != p.m))
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "B must be int32 with %lld entries", (long long)p.m);
  /* the int32 accumulator plus bias, requantized per output channel in the GEMM's epilogue:
   * round_half_even(acc (s_x s_w[m] / s_y)) + z_y, saturated (eq. 23) */
  float *mult = malloc(sizeof(float) * (size_t)(p.m ? p.m : 1));
  if (!mult) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  for (int64_t m = 0; m < p.m; m++) mult[m] = sx * sw[nsw == 1 ? 0 : m] / sy;
  if ((st = finite_mult(node, mult, p.m))) { free(mult); return st; }
  cquant_epilogue_t e;
  memset(&e, 0, sizeof e);
  e.kind = CQUANT_EPI_REQUANT_F;
  e.bias = bias ? bias->data : NULL;
  e.per_column = 1;
  e.mult = mult;
  e.zo = zy;
  e.out_signed = ydt == CQUANT_DT_S8;
  e.lo = e.out_signed ? -128 : 0;
  e.hi = e.out_signed ? 127 : 255;
  st = conv_run(ctx, node, in[0], in[3], in[2], in[5], 3, 5, &e, ydt, &out[0], &p);
  free(mult);
  return st;
}

/* QGemm: Y = A B (+ C) with A (M x K) and B (K x N, or N x K with transB) 8-bit, C int32 at scale
 * s_a s_b; y_scale given: requantized to y's type (eq. 23), else float32 (acc s_a s_b[n]). */
int cquant__op_qgemm(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_out;
  const cquant_array_t *a = in[0], *b = in[3], *c = n_in > 6 ? in[6] : NULL;
  const cquant_array_t *ys = n_in > 7 ? in[7] : NULL, *yz = n_in > 8 ? in[8] : NULL;
  float sa, sy = 1;
  int32_t za, zy = 0;
  cquant_dtype_t d, ydt = CQUANT_DT_F32;
  int st;
  if (!is8(a) || !is8(b) || a->ndim != 2 || b->ndim != 2) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "A and B must be 2-D uint8 or int8");
  if (cquant__attr_int(node, "transA", 0)) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "transA=1 is not supported");
  const Onnx__AttributeProto *al = cquant__attr(node, "alpha");
  const float alpha = al && al->has_f ? al->f : 1.0f;
  if ((st = cquant__scalar_qp(node, in[1], in[2], "a_scale/a_zero_point", &sa, &za, &d))) return st;
  if (ys && (st = cquant__scalar_qp(node, ys, yz, "y_scale/y_zero_point", &sy, &zy, &ydt))) return st;
  const int transB = (int)cquant__attr_int(node, "transB", 0);
  const int64_t M = a->shape[0], K = a->shape[1], N = transB ? b->shape[0] : b->shape[1];
  if ((transB ? b->shape[1] : b->shape[0]) != K)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "inner dimensions differ: %lld vs %lld", (long long)K, (long long)(transB ? b->shape[1] : b->shape[0]));
  const float *sb;
  int64_t nsb, nzb;
  int32_t *zb;
  if ((st = cquant__scales(node, in[4], "b_scale", &sb, &nsb))) return st;
  if ((st = cquant__zero_points(node, in[5], "b_zero_point", &zb, &nzb, &d))) return st;
  if ((nsb != 1 && nsb != N) || (nzb != 1 && nzb != N)) {
    free(zb);
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "b_scale and b_zero_point need 1 or %lld entries", (long long)N);
  }
  if (c && (c->dtype != CQUANT_DT_S32 || (c->numel != N && c->numel != 1))) {
    free(zb);
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "C must be int32 with %lld entries", (long long)N);
  }
  /* weights as K x N, packed; constant weights once per model and node (the node's cache) */
  cquant_qgemm_weights_t *w = NULL, *own = NULL;
  const int cacheable = cquant__input_is_const(ctx, 3) && (n_in < 6 || !in[5] || cquant__input_is_const(ctx, 5));
  if (cacheable) w = cquant__cache_get(ctx, b->data);
  if (!w) {
    const void *bk = b->data;
    void *tmp = NULL;
    if (transB) {
      if (!(tmp = malloc((size_t)(K * N) + 1))) { free(zb); return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); }
      for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) ((uint8_t *)tmp)[k * N + n] = ((const uint8_t *)b->data)[n * K + k];
      bk = tmp;
    }
    st = cquant_qgemm_pack(bk, b->dtype == CQUANT_DT_S8, K, N, N, zb, nzb == N, &own);
    free(tmp);
    if (st) { free(zb); return st; }
    w = own;
    if (cacheable && (w = cquant__cache_put(ctx, b->data, own, (void (*)(void *))cquant_qgemm_weights_free))) own = NULL;
    else w = own;
  }
  free(zb);
  float *mult = malloc(sizeof(float) * (size_t)N);
  int32_t *bias = c ? malloc(sizeof(int32_t) * (size_t)N) : NULL;
  if (!mult || (c && !bias)) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
  int64_t oshape[2] = {M, N};
  if (!st) st = cquant_array_alloc(&out[0], ydt, 2, oshape);
  if (!st) {
    for (int64_t n = 0; n < N; n++) {
      mult[n] = alpha * sa * sb[nsb == 1 ? 0 : n] / (ydt == CQUANT_DT_F32 ? 1.0f : sy);
      if (bias) bias[n] = ((const int32_t *)c->data)[c->numel == 1 ? 0 : n];
    }
    if (ydt != CQUANT_DT_F32 && (st = finite_mult(node, mult, N))) cquant_array_free(&out[0]);
  }
  if (!st) {
    cquant_epilogue_t e;
    memset(&e, 0, sizeof e);
    e.bias = bias;
    e.per_column = 1;
    if (ydt == CQUANT_DT_F32) {
      e.kind = CQUANT_EPI_F32;
      e.scale = mult;
    } else {
      e.kind = CQUANT_EPI_REQUANT_F;
      e.mult = mult;
      e.zo = zy;
      e.out_signed = ydt == CQUANT_DT_S8;
      e.lo = e.out_signed ? -128 : 0;
      e.hi = e.out_signed ? 127 : 255;
    }
    st = cquant_qgemm_ex(a->data, a->dtype == CQUANT_DT_S8, M, K, za, w, &e, out[0].data, N);
    if (st) cquant_array_free(&out[0]);
  }
  free(mult);
  free(bias);
  cquant_qgemm_weights_free(own);
  return st;
}

/* QLinearAdd: C = A + B with numpy broadcasting (com.microsoft's definition), by a table of every
 * input pair holding the QDQ graph's result (eq. 26b). */
int cquant__op_qlinear_add(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_out;
  const cquant_array_t *a = in[0], *b = in[3];
  float sa, sb, sc;
  int32_t za, zb, zc;
  cquant_dtype_t da, db, dc;
  int st;
  if (!is8(a) || !is8(b) || a->dtype != b->dtype) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "A and B must be uint8 or int8 of one type");
  if ((st = cquant__scalar_qp(node, in[1], in[2], "A_scale/A_zero_point", &sa, &za, &da)) ||
      (st = cquant__scalar_qp(node, in[4], in[5], "B_scale/B_zero_point", &sb, &zb, &db)) ||
      (st = cquant__scalar_qp(node, in[6], n_in > 7 ? in[7] : NULL, "C_scale/C_zero_point", &sc, &zc, &dc)))
    return st;
  if (dc != a->dtype) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "C must have A's type");
  /* different shapes: both broadcast (numpy rules) into byte copies of the output's shape first */
  uint8_t *ab = NULL, *bb = NULL;
  const void *ad = a->data, *bd = b->data;
  int nd;
  int64_t shape[CQUANT_MAX_DIMS], stride[2][CQUANT_MAX_DIMS];
  const int bcast = a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
  if (bcast) {
    const cquant_array_t *ab2[2] = {a, b};
    if ((st = cquant__broadcast(node, ab2, 2, &nd, shape, stride))) return st;
  } else {
    nd = a->ndim;
    memcpy(shape, a->shape, sizeof(int64_t) * (size_t)nd);
  }
  if ((st = cquant_array_alloc(&out[0], a->dtype, nd, shape))) return st;
  if (bcast) {
    const int64_t n = out[0].numel;
    ab = malloc((size_t)n + 1), bb = malloc((size_t)n + 1);
    if (!ab || !bb) {
      free(ab), free(bb), cquant_array_free(&out[0]);
      return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
      ab[i] = ((const uint8_t *)a->data)[cquant__offset_of(i, nd, shape, stride[0])];
      bb[i] = ((const uint8_t *)b->data)[cquant__offset_of(i, nd, shape, stride[1])];
    }
    ad = ab, bd = bb;
  }
  /* eq. 26b (the integer model gives the fake-quantized model's bits): with constant parameters
   * a table of all input pairs, made once per model and node; otherwise element by element */
  const int sg = a->dtype == CQUANT_DT_S8;
  int cacheable = ctx && ctx->node >= 0;
  for (int k = 1; k < 8; k++)
    if (k != 3 && k < n_in && in[k]) cacheable &= cquant__input_is_const(ctx, k);
  const uint8_t *tab = cacheable ? cquant__cache_get(ctx, in[1]->data) : NULL;
  uint8_t *t = NULL;
  if (cacheable && !tab) {
    if (!(t = malloc(65536))) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory");
    else if (!(st = cquant__qadd_table_qdq(sa, za, sb, zb, sg, sc, zc, t))) {
      const uint8_t *c = cquant__cache_put(ctx, in[1]->data, t, free);
      tab = c ? c : t;
      if (c) t = NULL; /* the cache owns it (or the copy another thread stored first) */
    }
  }
  if (tab) cquant__qadd_by_table(tab, ad, bd, out[0].numel, out[0].data);
  else if (!st) st = cquant__qadd_qdq(ad, sa, za, bd, sb, zb, sg, out[0].numel, sc, zc, out[0].data);
  if (st) cquant_array_free(&out[0]);
  free(t), free(ab), free(bb);
  return st;
}

/* QLinearGlobalAveragePool (NCHW): y = saturate(round_half_even((sum - n z_x) s_x / (n s_y)) + z_y). */
int cquant__op_qlinear_gap(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  float sx, sy;
  int32_t zx, zy;
  cquant_dtype_t dx, dy;
  int st;
  if (!is8(x) || x->ndim < 3) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "X must be uint8 or int8 with at least 3 dimensions");
  const int cl = (int)cquant__attr_int(node, "channels_last", 0);
  if ((st = cquant__scalar_qp(node, in[1], in[2], "x_scale/x_zero_point", &sx, &zx, &dx)) ||
      (st = cquant__scalar_qp(node, in[3], in[4], "y_scale/y_zero_point", &sy, &zy, &dy)))
    return st;
  if (dy != x->dtype) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "Y must have X's type");
  if (cl && x->ndim != 4) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "channels_last needs a 4-D X");
  const int64_t C = cl ? x->shape[3] : x->shape[1];
  int64_t shape[CQUANT_MAX_DIMS];
  int64_t plane = 1;
  for (int d = 0; d < x->ndim; d++) shape[d] = 1;
  shape[0] = x->shape[0];
  shape[cl ? 3 : 1] = C;
  for (int d = cl ? 1 : 2; d < (cl ? 3 : x->ndim); d++) plane *= x->shape[d];
  if ((st = cquant_array_alloc(&out[0], x->dtype, x->ndim, shape))) return st;
  const int sg = x->dtype == CQUANT_DT_S8;
  const float m = sx / (sy * (float)plane);
  if ((st = finite_mult(node, &m, 1))) { cquant_array_free(&out[0]); return st; }
  const int64_t planes = x->shape[0] * C;
  int32_t *acc = malloc(sizeof(int32_t) * (size_t)(planes ? planes : 1));
  if (!acc) { cquant_array_free(&out[0]); return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); }
  cquant__kernels()->gap_sum_8(x->data, sg, cl, x->shape[0], C, plane, zx, acc);
  cquant__requant_f(acc, planes, m, zy, x->dtype, out[0].data);
  free(acc);
  return 0;
}

/* NhwcMaxPool (com.microsoft): max pooling of uint8/int8 N x H x W x C, kernel_shape, strides, pads;
 * every output pixel's channels at once. */
int cquant__op_nhwc_maxpool(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, int n_out) {
  (void)n_in, (void)n_out;
  const cquant_array_t *x = in[0];
  if (!is8(x) || x->ndim != 4) return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "X must be 4-D uint8 or int8 (NHWC)");
  const Onnx__AttributeProto *a = cquant__attr(node, "kernel_shape");
  if (!a || a->n_ints != 2) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "kernel_shape needs 2 values");
  const int64_t kh = a->ints[0], kw = a->ints[1];
  int64_t sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  if ((a = cquant__attr(node, "strides")) && a->n_ints == 2) sh = a->ints[0], sw = a->ints[1];
  if ((a = cquant__attr(node, "pads")) && a->n_ints == 4) pt = a->ints[0], pl = a->ints[1], pb = a->ints[2], pr = a->ints[3];
  const int64_t N = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || pt < 0 || pl < 0 || pb < 0 || pr < 0)
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "bad kernel, strides or pads");
  const int64_t oh = (H + pt + pb - kh) / sh + 1, ow = (W + pl + pr - kw) / sw + 1;
  if (oh < 1 || ow < 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "the window does not fit");
  int64_t shape[4] = {N, oh, ow, C};
  int st = cquant_array_alloc(&out[0], x->dtype, 4, shape);
  if (st) return st;
  cquant__kernels()->maxpool_nhwc_8(x->data, x->dtype == CQUANT_DT_S8, N, H, W, C, kh, kw, sh, sw, pt, pl, oh, ow, out[0].data);
  return 0;
}
