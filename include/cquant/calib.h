/* Calibration: range estimation from data (docs/calibration.md). An observer sees any number of
 * float32 batches, keeps memory independent of how many (a running min/max or a histogram), can be
 * merged with another of the same configuration, and finally gives a range and its parameters. */
#ifndef CQUANT_CALIB_H
#define CQUANT_CALIB_H

#include <stddef.h>
#include <stdint.h>
#include "cquant/qparams.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  CQUANT_CALIB_MINMAX = 0,     /* running min and max */
  CQUANT_CALIB_EMA = 1,        /* moving-average min/max (PyTorch MovingAverage*MinMaxObserver) */
  CQUANT_CALIB_PERCENTILE = 2, /* percentile of |x| (symmetric) or both tails (asymmetric) */
  CQUANT_CALIB_ENTROPY = 3,    /* KL-divergence search (TensorRT / pytorch-quantization) */
  CQUANT_CALIB_MSE = 4,        /* the range minimising the quantization MSE of the histogram */
  CQUANT_CALIB_COUNT
} cquant_calib_method_t;

typedef struct {
  cquant_calib_method_t method;
  cquant_dtype_t dtype;   /* the target: any integer type of 2..16 bits */
  unsigned flags;         /* CQUANT_QF_SYMMETRIC, CQUANT_QF_NARROW_RANGE */
  int axis;               /* -1: per-tensor; otherwise per-channel along this axis (minmax, ema, mse) */
  double percentile;      /* (0, 100], default 99.99 */
  double ema_constant;    /* (0, 1], default 0.01 */
  int bins;               /* |x| bins after the first batch, 128..65536, default 2048 (per-channel 512) */
  int keep_histogram;     /* minmax/ema per-tensor: keep a histogram too, for cquant_observer_plot_svg */
} cquant_calib_config_t;

typedef struct cquant_observer cquant_observer_t;

/* Fills the defaults for a method (int8, symmetric, per-tensor). */
void cquant_calib_config_default(cquant_calib_config_t *cfg, cquant_calib_method_t method);

/* Parses "minmax", "ema", "percentile", "entropy", "mse". */
int cquant_calib_method_from_name(const char *name, cquant_calib_method_t *out);
const char *cquant_calib_method_name(cquant_calib_method_t m);

/* INVALID_ARGUMENT for a percentile outside (0, 100], a per-channel axis with percentile/entropy,
 * a non-integer dtype, bins outside 128..65536. */
int cquant_observer_create(const cquant_calib_config_t *cfg, cquant_observer_t **out);
void cquant_observer_destroy(cquant_observer_t *o);

/* Observes one batch (float32, row-major, `shape`). Per-channel: the channel axis must exist and
 * keep its length across batches (other dimensions may change). NaN and +-Inf are skipped and
 * counted (cquant_observer_stats). An empty batch is INVALID_ARGUMENT. */
int cquant_observer_update(cquant_observer_t *o, const float *x, int ndim, const int64_t *shape);

/* Adds src's observations to dst (same configuration): min/max combine, histograms add exactly.
 * The moving average depends on batch order and cannot be merged: UNSUPPORTED. */
int cquant_observer_merge(cquant_observer_t *dst, const cquant_observer_t *src);

/* The chosen range per channel (1 for per-tensor): rmin/rmax hold `channels` entries.
 * Returns INVALID_ARGUMENT when nothing finite was observed. */
int cquant_observer_ranges(cquant_observer_t *o, float *rmin, float *rmax, int64_t channels);

/* Parameters for a tensor of `shape` from the chosen ranges (per-channel: the axis length must
 * equal the observed channel count). */
int cquant_observer_qparams(cquant_observer_t *o, int ndim, const int64_t *shape, cquant_qparams_t **qp);

typedef struct {
  int64_t batches, seen, nonfinite; /* batches, finite values observed, NaN/Inf skipped */
  int64_t channels;
  float data_min, data_max;         /* over all channels */
  double bin_width;                 /* histogram methods: the current width (0 otherwise) */
  int64_t bins;                     /* histogram methods: the current number of signed bins */
  int64_t counted;                  /* histogram methods: the values in the histogram (= seen) */
} cquant_observer_stats_t;
void cquant_observer_stats(const cquant_observer_t *o, cquant_observer_stats_t *st);

/* Writes an SVG histogram (log-scale counts) of a per-tensor histogram observer with the chosen
 * range and the min-max range marked. Other observers: UNSUPPORTED. The file is written whole. */
int cquant_observer_plot_svg(cquant_observer_t *o, const char *path, const char *title);

#ifdef __cplusplus
}
#endif
#endif
