/* QDQ insertion: a QuantizeLinear/DequantizeLinear pair on an activation, and a quantized constant
 * behind a DequantizeLinear (the primitives of PTQ's QDQ export). */
#include <stdlib.h>
#include <string.h>
#include "graph/graph.h"

int cquant__graph_insert_qdq(cquant__graph_t *g, const char *t, float s, int32_t z, cquant_dtype_t dt) {
  const char *sn = cquant__graph_scalar(g, cquant__graph_str(g, "%s_scale", t), CQUANT_DT_F32, s);
  const char *zn = cquant__graph_scalar(g, cquant__graph_str(g, "%s_zero_point", t), dt, z);
  const char *tq = cquant__graph_str(g, "%s_quantized", t), *tdq = cquant__graph_str(g, "%s_dequantized", t);
  if (!sn || !zn || !tq || !tdq) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  int st = cquant__graph_rename_uses(g, t, tdq, 0);
  if (st) return st;
  const char *qi[3] = {t, sn, zn}, *di[3] = {tq, sn, zn};
  if (!cquant__graph_add_node(g, "QuantizeLinear", "", cquant__graph_str(g, "%s_QuantizeLinear", t), 3, qi, 1, &tq) ||
      !cquant__graph_add_node(g, "DequantizeLinear", "", cquant__graph_str(g, "%s_DequantizeLinear", t), 3, di, 1, &tdq))
    return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  return 0;
}

/* A constant quantized along `axis` behind a DequantizeLinear: q (dtype), scales and zero-points
 * (zdt) as 1-D initializers. Returns the DequantizeLinear's output name in *dq. */
int cquant__graph_add_const_dq(cquant__graph_t *g, const char *base, cquant_array_t *q, const float *scale, cquant_dtype_t zdt, int64_t C, int axis,
                                const char **dq) {
  cquant_array_t s, z;
  int64_t sh[1] = {C};
  int st;
  if ((st = cquant_array_alloc(&s, CQUANT_DT_F32, 1, sh))) return st;
  if ((st = cquant_array_alloc(&z, zdt, 1, sh))) { cquant_array_free(&s); return st; }
  memcpy(s.data, scale, sizeof(float) * (size_t)C);
  const char *qn = cquant__graph_str(g, "%s_quantized", base), *sn = cquant__graph_str(g, "%s_scale", base),
             *zn = cquant__graph_str(g, "%s_zero_point", base), *dn = cquant__graph_str(g, "%s_dequantized", base);
  if (!qn || !sn || !zn || !dn || (st = cquant__graph_init_add(g, qn, q)) || (st = cquant__graph_init_add(g, sn, &s)) ||
      (st = cquant__graph_init_add(g, zn, &z))) {
    cquant_array_free(&s), cquant_array_free(&z);
    return st ? st : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  }
  const char *in[3] = {qn, sn, zn};
  Onnx__NodeProto *n = cquant__graph_add_node(g, "DequantizeLinear", "", cquant__graph_str(g, "%s_DequantizeLinear", base), 3, in, 1, &dn);
  if (!n || cquant__node_set_int(g, n, "axis", axis)) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "graph: out of memory");
  *dq = dn;
  return 0;
}

