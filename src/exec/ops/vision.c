/* Operators of the vision family (see exec_internal.h): normalizations (vision_norm.c), Resize
 * and Upsample (resize.c), GridSample and RoiAlign (vision_sample.c), NonMaxSuppression
 * (vision_nms.c). */
#include "exec/ops/vision_internal.h"

const cquant__op_t cquant__ops_vision[] = {
    {"LayerNormalization", cquant__op_layer_norm, 2, 3, 1, 3, 0},
    {"com.microsoft.LayerNormalization", cquant__op_layer_norm, 2, 3, 1, 3, 0},
    {"SimplifiedLayerNormalization", cquant__op_layer_norm, 2, 2, 1, 2, 0}, /* ONNX Runtime's, in the default domain */
    {"com.microsoft.SimplifiedLayerNormalization", cquant__op_layer_norm, 2, 2, 1, 2, 0},
    {"com.microsoft.SkipLayerNormalization", cquant__op_skip_layer_norm, 3, 5, 1, 4, 0},
    {"com.microsoft.SkipSimplifiedLayerNormalization", cquant__op_skip_layer_norm, 3, 4, 1, 4, 0},
    {"InstanceNormalization", cquant__op_instance_norm, 3, 3, 1, 1, 0},
    {"GroupNormalization", cquant__op_group_norm, 3, 3, 1, 1, 0},
    {"MeanVarianceNormalization", cquant__op_mvn, 1, 1, 1, 1, 0},
    {"LpNormalization", cquant__op_lp_norm, 1, 1, 1, 1, 0},
    {"LRN", cquant__op_lrn, 1, 1, 1, 1, 0},
    {"Resize", cquant__op_resize, 1, 4, 1, 1, 0},
    {"Upsample", cquant__op_upsample, 1, 2, 1, 1, 0},
    {"GridSample", cquant__op_grid_sample, 2, 2, 1, 1, 0},
    {"RoiAlign", cquant__op_roi_align, 3, 3, 1, 1, 0},
    {"NonMaxSuppression", cquant__op_nms, 2, 5, 1, 1, 0},
    {NULL, NULL, 0, 0, 0, 0, 0},
};
