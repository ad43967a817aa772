/* Files written whole or not at all, and quantization parameters as JSON. */
#ifndef CQUANT_IO_H
#define CQUANT_IO_H

#include <stddef.h>
#include "cquant/qparams.h"
#include "cquant/quantize.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes len bytes to path via a temporary file in the same folder and a rename: the path holds
 * either its old content or all of the new, never part of it. */
int cquant_file_write_atomic(const char *path, const void *data, size_t len);

/* Creates folder path and any missing parents (like mkdir -p); an existing folder is fine. IO
 * naming the path and the reason otherwise. */
int cquant_mkdirs(const char *path);

/* Reads a whole file into a malloc'd buffer (NUL-terminated, len excludes the NUL). */
int cquant_file_read(const char *path, void **data, size_t *len);

/* The qparams JSON document (docs/formats.md): format, version, dtype, granularity, axis,
 * group_size, symmetric, narrow_range, short_last_group, rounding, qmin, qmax, shape,
 * param_shape, layout (of the quantized data it describes), scale[], zero_point[]. Scales are
 * written with %.9g, which round-trips every float32 exactly. *json is malloc'd: free() it.
 * Reading checks every field (BAD_FORMAT naming the field) and the values (as
 * cquant_qparams_validate). layout may be NULL when not wanted. */
int cquant_qparams_to_json(const cquant_qparams_t *qp, cquant_layout_t layout, char **json);
int cquant_qparams_from_json(const char *json, cquant_qparams_t **out, cquant_layout_t *layout);
int cquant_qparams_save(const char *path, const cquant_qparams_t *qp, cquant_layout_t layout);
int cquant_qparams_load(const char *path, cquant_qparams_t **out, cquant_layout_t *layout);

/* The same for a document that may be partial (written by hand or another tool): "granularity"
 * may be left out and is inferred (no axis and no group_size: per_tensor; axis: per_channel; axis
 * and group_size: per_group; axis -1/null and group_size 0/null count as absent); "shape" may be
 * left out and is then taken from ndim/shape, the tensor being quantized or dequantized (a document
 * with layout "packed" must give its shape). Contradictions (per_tensor with an axis, per_channel
 * with a group_size, a scale count that does not fit the axis) are BAD_FORMAT naming them. A shape
 * the document gives is kept: the caller compares or rebinds it. */
int cquant_qparams_from_json_for(const char *json, int ndim, const int64_t *shape, cquant_qparams_t **out,
                                 cquant_layout_t *layout);
int cquant_qparams_load_for(const char *path, int ndim, const int64_t *shape, cquant_qparams_t **out,
                            cquant_layout_t *layout);

#ifdef __cplusplus
}
#endif
#endif
