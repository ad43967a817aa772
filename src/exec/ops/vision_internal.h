/* Internal to the vision family (src/exec/ops/vision*.c): the operators its table names. */
#ifndef CQUANT_EXEC_VISION_INTERNAL_H
#define CQUANT_EXEC_VISION_INTERNAL_H

#include "exec/exec_internal.h"

#define CQUANT__VISION_OP(name)                                                                                         \
  int name(cquant__opctx_t *ctx, const Onnx__NodeProto *node, const cquant_array_t *const *in, int n_in, cquant_array_t *out, \
           int n_out)

/* Normalizations (vision_norm.c). */
CQUANT__VISION_OP(cquant__op_layer_norm);      /* LayerNormalization, com.microsoft.LayerNormalization,
                                                  SimplifiedLayerNormalization */
CQUANT__VISION_OP(cquant__op_skip_layer_norm); /* com.microsoft.Skip(Simplified)LayerNormalization */
CQUANT__VISION_OP(cquant__op_instance_norm);
CQUANT__VISION_OP(cquant__op_group_norm);
CQUANT__VISION_OP(cquant__op_mvn);
CQUANT__VISION_OP(cquant__op_lp_norm);
CQUANT__VISION_OP(cquant__op_lrn);
/* Sampling (vision_sample.c). */
CQUANT__VISION_OP(cquant__op_grid_sample);
CQUANT__VISION_OP(cquant__op_roi_align);
/* NonMaxSuppression (vision_nms.c). */
CQUANT__VISION_OP(cquant__op_nms);

/* A float input (float32, float16, bfloat16 or float64). */
static inline int cquant__vision_need_float(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what) {
  if (!a) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s is missing", what);
  if (a->dtype != CQUANT_DT_F32 && a->dtype != CQUANT_DT_F16 && a->dtype != CQUANT_DT_BF16 && a->dtype != CQUANT_DT_F64)
    return cquant__node_error(node, CQUANT_STATUS_UNSUPPORTED, "%s is %s (float32, float16, bfloat16 or float64 expected)", what,
                              cquant_dtype_info(a->dtype)->name);
  return CQUANT_STATUS_OK;
}

#endif
