/* Observers: the calibration API (include/cquant/calib.h, docs/calibration.md). */
#include <stdlib.h>
#include <string.h>
#include "calib/histogram.h"

#define HIST_CAP_FACTOR 4 /* signed bins = 4 x the |x| bins: both signs, and the range may double */
/* Entropy: the signed window may grow to 128 x the |x| bins (the range to 64 x the first batch's max|x|)
 * at the first batch's width before that width doubles (eq. C10): 262144 bins at most for 2048
 * (2 MiB of counts and 2 MiB of scratch). */
#define HIST_GROW_FACTOR 128

struct cquant_observer {
  cquant_calib_config_t cfg;
  int64_t channels;       /* 0 until the first batch (per-channel), 1 per-tensor */
  int64_t batches, seen, nonfinite;
  float *mn, *mx;         /* per channel: running (minmax), averaged (ema), or the data's (others) */
  cquant__hist_t *hist;   /* per channel, for percentile / entropy / mse (and per-tensor plots) */
  float *sel_lo, *sel_hi; /* the last chosen ranges */
};

static const char *method_names[CQUANT_CALIB_COUNT] = {"minmax", "ema", "percentile", "entropy", "mse"};

const char *cquant_calib_method_name(cquant_calib_method_t m) {
  return (unsigned)m < CQUANT_CALIB_COUNT ? method_names[m] : "unknown";
}

int cquant_calib_method_from_name(const char *name, cquant_calib_method_t *out) {
  for (int i = 0; name && i < CQUANT_CALIB_COUNT; i++)
    if (!strcmp(name, method_names[i])) {
      *out = (cquant_calib_method_t)i;
      return CQUANT_STATUS_OK;
    }
  return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "unknown calibration method '%s' (minmax, ema, percentile, entropy, mse)",
                       name ? name : "(null)");
}

void cquant_calib_config_default(cquant_calib_config_t *cfg, cquant_calib_method_t method) {
  memset(cfg, 0, sizeof *cfg);
  cfg->method = method;
  cfg->dtype = CQUANT_DT_S8;
  cfg->flags = CQUANT_QF_SYMMETRIC;
  cfg->axis = -1;
  cfg->percentile = 99.99;
  cfg->ema_constant = 0.01;
  cfg->bins = 0; /* 2048 per-tensor, 512 per-channel */
}

static int uses_hist(const cquant_observer_t *o) {
  return o->cfg.method >= CQUANT_CALIB_PERCENTILE || (o->cfg.axis < 0 && o->cfg.keep_histogram);
}

int cquant_observer_create(const cquant_calib_config_t *cfg, cquant_observer_t **out) {
  if (!cfg || !out) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "observer: NULL argument");
  *out = NULL;
  if ((unsigned)cfg->method >= CQUANT_CALIB_COUNT) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "unknown calibration method %d", (int)cfg->method);
  const cquant_dtype_info_t *info = cquant_dtype_info(cfg->dtype);
  if (!info || !cquant_dtype_is_qint(cfg->dtype) || info->bits > 16)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "calibration targets integer types of 2..16 bits, not %s", info ? info->name : "?");
  if (!(cfg->percentile > 0 && cfg->percentile <= 100))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "percentile %g outside (0, 100]", cfg->percentile);
  if (!(cfg->ema_constant > 0 && cfg->ema_constant <= 1))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "moving-average constant %g outside (0, 1]", cfg->ema_constant);
  if (cfg->axis >= 0 && (cfg->method == CQUANT_CALIB_PERCENTILE || cfg->method == CQUANT_CALIB_ENTROPY))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "%s calibration is per-tensor only (per-channel: minmax, ema, mse)",
                         method_names[cfg->method]);
  if (cfg->axis < -1 || cfg->axis >= CQUANT_MAX_DIMS) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "axis %d out of range", cfg->axis);
  if (cfg->bins && (cfg->bins < 128 || cfg->bins > 65536))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "histogram bins %d outside 128..65536", cfg->bins);
  cquant_observer_t *o = calloc(1, sizeof *o);
  if (!o) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "observer: out of memory");
  o->cfg = *cfg;
  if (!o->cfg.bins) o->cfg.bins = cfg->axis >= 0 ? 512 : 2048;
  *out = o;
  return CQUANT_STATUS_OK;
}

void cquant_observer_destroy(cquant_observer_t *o) {
  if (!o) return;
  if (o->hist)
    for (int64_t c = 0; c < o->channels; c++) cquant__hist_free(&o->hist[c]);
  free(o->hist);
  free(o->mn);
  free(o->mx);
  free(o->sel_lo);
  free(o->sel_hi);
  free(o);
}

static int alloc_channels(cquant_observer_t *o, int64_t channels) {
  o->channels = channels;
  o->mn = malloc(sizeof(float) * (size_t)channels);
  o->mx = malloc(sizeof(float) * (size_t)channels);
  o->sel_lo = calloc((size_t)channels, sizeof(float));
  o->sel_hi = calloc((size_t)channels, sizeof(float));
  if (!o->mn || !o->mx || !o->sel_lo || !o->sel_hi) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "observer: out of memory");
  for (int64_t c = 0; c < channels; c++) {
    o->mn[c] = INFINITY;
    o->mx[c] = -INFINITY;
  }
  if (uses_hist(o)) {
    o->hist = calloc((size_t)channels, sizeof(cquant__hist_t));
    if (!o->hist) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "observer: out of memory");
    for (int64_t c = 0; c < channels; c++) {
      const int fixed = o->cfg.method == CQUANT_CALIB_ENTROPY; /* pytorch-quantization's binning (eq. C9-C10) */
      int st = cquant__hist_init(&o->hist[c], (int64_t)o->cfg.bins * HIST_CAP_FACTOR, (int64_t)o->cfg.bins * HIST_GROW_FACTOR, fixed);
      if (st) return st;
    }
  }
  return CQUANT_STATUS_OK;
}

/* Folds one batch's min/max into the running values (eq. C0 for the moving average). */
static void fold_minmax(cquant_observer_t *o, int64_t c, float bmn, float bmx) {
  if (!(bmn <= bmx)) return; /* nothing finite in this channel */
  if (o->cfg.method == CQUANT_CALIB_EMA && o->mn[c] <= o->mx[c]) {
    const float k = (float)o->cfg.ema_constant;
    o->mn[c] = o->mn[c] + k * (bmn - o->mn[c]);
    o->mx[c] = o->mx[c] + k * (bmx - o->mx[c]);
  } else if (o->cfg.method == CQUANT_CALIB_EMA) {
    o->mn[c] = bmn; /* the first batch is taken as it is */
    o->mx[c] = bmx;
  } else {
    o->mn[c] = bmn < o->mn[c] ? bmn : o->mn[c];
    o->mx[c] = bmx > o->mx[c] ? bmx : o->mx[c];
  }
}

int cquant_observer_update(cquant_observer_t *o, const float *x, int ndim, const int64_t *shape) {
  if (!o || !x || ndim < 0 || ndim > CQUANT_MAX_DIMS || (ndim && !shape))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "observer update: bad arguments");
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  if (n <= 0) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "observer update: empty batch");
  const int axis = o->cfg.axis;
  int64_t outer = 1, len = 1, inner = 1;
  if (axis >= 0) {
    if (axis >= ndim) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "channel axis %d out of range for a %d-d batch", axis, ndim);
    for (int d = 0; d < ndim; d++) {
      if (d < axis) outer *= shape[d];
      else if (d == axis) len = shape[d];
      else inner *= shape[d];
    }
    if (o->channels && len != o->channels)
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "batch has %lld channels on axis %d, earlier batches had %lld",
                           (long long)len, axis, (long long)o->channels);
  } else {
    outer = n;
  }
  int st = 0;
  if (!o->channels && (st = alloc_channels(o, axis >= 0 ? len : 1))) return st;
  const cquant__kernels_t *k = cquant__kernels();
  size_t bad = 0;
  if (axis < 0) {
    float bmn = INFINITY, bmx = -INFINITY;
    if (o->hist) { /* the counting pass gives the min/max too */
      if ((st = cquant__hist_add(&o->hist[0], x, (size_t)n, o->cfg.bins, &bmn, &bmx, &bad))) return st;
    } else {
      bad = k->minmax(x, (size_t)n, &bmn, &bmx);
    }
    fold_minmax(o, 0, bmn, bmx);
  } else {
    /* per channel: gather each channel's values (for the histograms) or just its min/max */
    float *buf = o->hist ? malloc(sizeof(float) * (size_t)(outer * inner)) : NULL;
    if (o->hist && !buf) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "observer: out of memory");
    for (int64_t c = 0; c < len && !st; c++) {
      float bmn = INFINITY, bmx = -INFINITY;
      size_t m = 0;
      for (int64_t ou = 0; ou < outer; ou++) {
        const float *row = x + (ou * len + c) * inner;
        if (buf) {
          memcpy(buf + m, row, sizeof(float) * (size_t)inner);
          m += (size_t)inner;
        } else {
          float a, b;
          bad += k->minmax(row, (size_t)inner, &a, &b);
          bmn = a < bmn ? a : bmn;
          bmx = b > bmx ? b : bmx;
        }
      }
      if (buf) {
        size_t cbad = 0;
        st = cquant__hist_add(&o->hist[c], buf, m, o->cfg.bins, &bmn, &bmx, &cbad);
        bad += cbad;
      }
      fold_minmax(o, c, bmn, bmx);
    }
    free(buf);
    if (st) return st;
  }
  o->batches++;
  o->nonfinite += (int64_t)bad;
  o->seen += n - (int64_t)bad;
  return CQUANT_STATUS_OK;
}

int cquant_observer_merge(cquant_observer_t *dst, const cquant_observer_t *src) {
  if (!dst || !src) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "observer merge: NULL argument");
  if (memcmp(&dst->cfg, &src->cfg, sizeof dst->cfg))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "observer merge: the configurations differ");
  if (dst->cfg.method == CQUANT_CALIB_EMA)
    return cquant__error(CQUANT_STATUS_UNSUPPORTED, "a moving average depends on the order of batches and cannot be merged");
  if (!src->channels) return CQUANT_STATUS_OK;
  int st = 0;
  if (!dst->channels && (st = alloc_channels(dst, src->channels))) return st;
  if (dst->channels != src->channels)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "observer merge: %lld channels vs %lld", (long long)dst->channels, (long long)src->channels);
  for (int64_t c = 0; c < dst->channels; c++) {
    fold_minmax(dst, c, src->mn[c], src->mx[c]);
    if (dst->hist && (st = cquant__hist_merge(&dst->hist[c], &src->hist[c]))) return st;
  }
  dst->batches += src->batches;
  dst->seen += src->seen;
  dst->nonfinite += src->nonfinite;
  return CQUANT_STATUS_OK;
}

/* The chosen range of one channel. */
static int select_range(cquant_observer_t *o, int64_t c, float *lo, float *hi) {
  const float dmn = o->mn[c], dmx = o->mx[c];
  if (!(dmn <= dmx)) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "no finite value was observed%s", o->channels > 1 ? " in a channel" : "");
  const int sym = (o->cfg.flags & CQUANT_QF_SYMMETRIC) != 0;
  const cquant_dtype_info_t *info = cquant_dtype_info(o->cfg.dtype);
  *lo = dmn;
  *hi = dmx;
  if (o->cfg.method <= CQUANT_CALIB_EMA) return CQUANT_STATUS_OK;
  const cquant__hist_t *h = &o->hist[c];
  const double w = cquant__hist_width(h);
  int64_t nabs_cap = (h->kmin < 0 ? -h->kmin : 0) + (h->kmin + h->nbins > 0 ? h->kmin + h->nbins : 0) + 1;
  double *abs = calloc((size_t)nabs_cap, sizeof(double));
  if (!abs) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "observer: out of memory");
  const int64_t nabs = cquant__hist_fold(h, abs);
  const float amax_data = fmaxf(-dmn, dmx);
  float a = amax_data;
  switch (o->cfg.method) {
    case CQUANT_CALIB_PERCENTILE:
      if (sym) a = (float)((double)cquant__select_percentile_abs(abs, nabs, o->cfg.percentile) * w);
      else {
        int64_t klo, khi;
        cquant__select_percentile_2s(h, o->cfg.percentile, &klo, &khi);
        *lo = fmaxf(dmn, (float)((double)klo * w));
        *hi = fminf(dmx, (float)((double)khi * w));
      }
      break;
    case CQUANT_CALIB_ENTROPY: {
      /* 128 levels for 8 bits, as TensorRT; an unsigned asymmetric target spends all 2^bits levels
       * on [0, T] (post-ReLU data), so the search models 256 levels then, as pytorch-quantization
       * does for unsigned quantizers (docs/calibration.md, C4) */
      const int bits = info->bits - ((o->cfg.flags & CQUANT_QF_REDUCE_RANGE) ? 1 : 0); /* eq. 11b */
      const int qbins = 1 << (bits - 1 + (!info->is_signed && !sym));
      a = (float)((double)cquant__select_entropy(abs, nabs, qbins) * w);
      break;
    }
    default: /* MSE */
      if (sym) a = (float)cquant__select_mse_sym(h, nabs, info->bits, info->is_signed, o->cfg.flags);
      else {
        double l, u;
        cquant__select_mse_2s(h, info->bits, info->is_signed, o->cfg.flags, &l, &u);
        *lo = fmaxf(dmn, (float)l);
        *hi = fminf(dmx, (float)u);
      }
      break;
  }
  if (sym || o->cfg.method == CQUANT_CALIB_ENTROPY) {
    a = fminf(a, amax_data); /* never wider than the data */
    *lo = fmaxf(dmn, -a);
    *hi = fminf(dmx, a);
  }
  free(abs);
  return CQUANT_STATUS_OK;
}

int cquant_observer_ranges(cquant_observer_t *o, float *rmin, float *rmax, int64_t channels) {
  if (!o || !rmin || !rmax) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "observer ranges: NULL argument");
  if (!o->channels) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "nothing has been observed");
  if (channels != o->channels)
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "asked for %lld ranges, the observer has %lld channels", (long long)channels, (long long)o->channels);
  for (int64_t c = 0; c < channels; c++) {
    int st = select_range(o, c, &rmin[c], &rmax[c]);
    if (st) return st;
    o->sel_lo[c] = rmin[c];
    o->sel_hi[c] = rmax[c];
  }
  return CQUANT_STATUS_OK;
}

int cquant_observer_qparams(cquant_observer_t *o, int ndim, const int64_t *shape, cquant_qparams_t **qp) {
  if (!o || !qp) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "observer qparams: NULL argument");
  *qp = NULL;
  if (!o->channels) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "nothing has been observed");
  const int per_channel = o->cfg.axis >= 0;
  if (per_channel && (o->cfg.axis >= ndim || shape[o->cfg.axis] != o->channels))
    return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "the tensor's axis %d does not have the %lld observed channels", o->cfg.axis, (long long)o->channels);
  float *lo = malloc(sizeof(float) * (size_t)o->channels), *hi = malloc(sizeof(float) * (size_t)o->channels);
  int st = lo && hi ? CQUANT_STATUS_OK : cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "observer: out of memory");
  if (!st) st = cquant_observer_ranges(o, lo, hi, o->channels);
  if (!st) st = cquant_qparams_create(o->cfg.dtype, per_channel ? CQUANT_PER_CHANNEL : CQUANT_PER_TENSOR, o->cfg.axis, 0, o->cfg.flags, ndim, shape, qp);
  const cquant_dtype_info_t *info = cquant_dtype_info(o->cfg.dtype);
  for (int64_t c = 0; !st && c < o->channels; c++)
    st = cquant_qparams_from_range(lo[c], hi[c], info->bits, info->is_signed, o->cfg.flags, &(*qp)->scale[c], &(*qp)->zero_point[c]);
  if (st && *qp) {
    cquant_qparams_destroy(*qp);
    *qp = NULL;
  }
  free(lo);
  free(hi);
  return st;
}

void cquant_observer_stats(const cquant_observer_t *o, cquant_observer_stats_t *s) {
  memset(s, 0, sizeof *s);
  if (!o) return;
  s->batches = o->batches;
  s->seen = o->seen;
  s->nonfinite = o->nonfinite;
  s->channels = o->channels;
  s->data_min = INFINITY;
  s->data_max = -INFINITY;
  for (int64_t c = 0; c < o->channels; c++) {
    s->data_min = fminf(s->data_min, o->mn[c]);
    s->data_max = fmaxf(s->data_max, o->mx[c]);
  }
  if (o->hist && o->channels) {
    s->bin_width = cquant__hist_width(&o->hist[0]);
    s->bins = o->hist[0].nbins;
    for (int64_t c = 0; c < o->channels; c++) s->counted += o->hist[c].total;
  }
}

/* For the plot: the histogram, the chosen range and the data's min/max. */
const cquant__hist_t *cquant__observer_hist(const cquant_observer_t *o, float *sel_lo, float *sel_hi, float *dmn, float *dmx) {
  if (!o || !o->hist || o->channels != 1) return NULL;
  *sel_lo = o->sel_lo[0];
  *sel_hi = o->sel_hi[0];
  *dmn = o->mn[0];
  *dmx = o->mx[0];
  return &o->hist[0];
}
