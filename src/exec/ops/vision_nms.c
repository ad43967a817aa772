/* NonMaxSuppression (opset 10/11): per batch and class, boxes above score_threshold in
 * descending score order (ties: lower index first), each kept unless its IoU with a box already
 * kept for that class exceeds iou_threshold, at most max_output_boxes_per_class of them. Output:
 * int64 [num_selected, 3] rows (batch, class, box).
 *
 * A candidate is compared only with the kept boxes that can overlap it along y: the boxes of
 * positive area, sorted once by y_min, carry a kept bit each; a kept box whose y_min is at or past
 * the candidate's y_max, or below its y_min minus the tallest kept box's height, cannot intersect
 * it, and the bits between are scanned 64 at a time. Detectors hand NMS tens of thousands of
 * boxes (torchvision's batched NMS offsets each class or level apart, so most pairs are far
 * apart): Mask R-CNN's RPN keeps 44,846 of 49,159, which took 10^9 comparisons one by one. Boxes
 * of zero, negative or NaN area never suppress and are never suppressed (as before); the selection
 * is the same: whether any kept box suppresses a candidate does not depend on the order they are
 * tried in. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exec/ops/vision_internal.h"

typedef struct {
  double s;
  int64_t i;
} cand_t;

static int by_score(const void *a, const void *b) {
  const cand_t *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* Box i as (y_min, x_min, y_max, x_max). */
static void corners(const double *b, int center, double *c) {
  if (center) {
    c[0] = b[1] - b[3] / 2, c[2] = b[1] + b[3] / 2;
    c[1] = b[0] - b[2] / 2, c[3] = b[0] + b[2] / 2;
  } else {
    c[0] = fmin(b[0], b[2]), c[2] = fmax(b[0], b[2]);
    c[1] = fmin(b[1], b[3]), c[3] = fmax(b[1], b[3]);
  }
}

/* IoU(a, b) > thr for boxes as corners of positive areas a1, a2 (no NaN corner: the min and max
 * below are fmin and fmax there). */
static inline int suppresses_pos(const double *a, const double *b, double a1, double a2, double thr) {
  const double ih = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]), iw = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
  if (!(ih > 0) || !(iw > 0)) return 0;
  const double inter = ih * iw, uni = a1 + a2 - inter;
  if (!(uni > 0)) return 0;
  return inter / uni > thr;
}

typedef struct {
  double y;
  int64_t i;
} ykey_t;

static int by_y(const void *a, const void *b) {
  const ykey_t *x = a, *y = b;
  if (x->y != y->y) return x->y < y->y ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* The first of the n keys (sorted) whose y is >= v. */
static int64_t lower_bound(const ykey_t *k, int64_t n, double v) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (k[mid].y < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int scalar_f(const Onnx__NodeProto *node, const cquant_array_t *a, const char *what, double *v) {
  if (!a) return CQUANT_STATUS_OK;
  int st = cquant__vision_need_float(node, a, what);
  if (st) return st;
  if (a->numel != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "%s must hold one value", what);
  *v = cquant__get_f64(a, 0);
  return CQUANT_STATUS_OK;
}

CQUANT__VISION_OP(cquant__op_nms) {
  (void)ctx, (void)n_out;
  const cquant_array_t *bx = in[0], *sc = n_in > 1 ? in[1] : NULL, *mo = n_in > 2 ? in[2] : NULL;
  int st;
  if ((st = cquant__vision_need_float(node, bx, "boxes")) || (st = cquant__vision_need_float(node, sc, "scores"))) return st;
  if (bx->ndim != 3 || bx->shape[2] != 4) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "boxes must be [batches, boxes, 4]");
  if (sc->ndim != 3 || sc->shape[0] != bx->shape[0] || sc->shape[2] != bx->shape[1])
    return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "scores must be [batches, classes, boxes] matching boxes");
  int64_t max_out = 0;
  if (mo) {
    if (cquant__is_float(mo->dtype) || mo->dtype == CQUANT_DT_BOOL || mo->numel != 1)
      return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "max_output_boxes_per_class must be one integer");
    max_out = cquant__get_i64(mo, 0);
  }
  double iou = 0, sthr = -INFINITY;
  if ((st = scalar_f(node, n_in > 3 ? in[3] : NULL, "iou_threshold", &iou))) return st;
  if ((st = scalar_f(node, n_in > 4 ? in[4] : NULL, "score_threshold", &sthr))) return st;
  const int has_sthr = n_in > 4 && in[4];
  if (!(iou >= 0 && iou <= 1)) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "iou_threshold %g is outside [0, 1]", iou);
  const int64_t center = cquant__attr_int(node, "center_point_box", 0);
  if (center != 0 && center != 1) return cquant__node_error(node, CQUANT_STATUS_INVALID_ARGUMENT, "center_point_box must be 0 or 1");
  const int64_t B = bx->shape[0], S = bx->shape[1], K = sc->shape[1];
  if (max_out > S) max_out = S;
  if (max_out < 0) max_out = 0;
  double *cor = malloc(sizeof(double) * (size_t)(5 * S + 1)), *area = cor + 4 * S; /* corners, then areas */
  cand_t *cand = malloc(sizeof(cand_t) * (size_t)(S + 1));
  ykey_t *keys = malloc(sizeof(ykey_t) * (size_t)(S + 1));
  int64_t *rank = malloc(sizeof(int64_t) * (size_t)(S + 1));
  uint64_t *kept = malloc(sizeof(uint64_t) * (size_t)(S / 64 + 1));
  int64_t n = 0, rows_cap = 16, *sel = malloc(sizeof(int64_t) * (size_t)(max_out + 1)), *rows = malloc(sizeof(int64_t) * 3 * 16);
  if (!cor || !cand || !keys || !rank || !kept || !sel || !rows) { st = cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); goto done; }
  for (int64_t b = 0; b < B && max_out; b++) {
    int64_t nk = 0; /* boxes of positive area, by y_min */
    for (int64_t i = 0; i < S; i++) {
      double v[4], *c = cor + 4 * i;
      for (int j = 0; j < 4; j++) v[j] = cquant__get_f64(bx, (b * S + i) * 4 + j);
      corners(v, (int)center, c);
      area[i] = (c[2] - c[0]) * (c[3] - c[1]);
      if (area[i] > 0) keys[nk].y = c[0], keys[nk].i = i, nk++;
    }
    qsort(keys, (size_t)nk, sizeof *keys, by_y);
    for (int64_t r = 0; r < nk; r++) rank[keys[r].i] = r;
    for (int64_t k = 0; k < K; k++) {
      int64_t nc = 0, ns = 0;
      for (int64_t i = 0; i < S; i++) {
        const double s = cquant__get_f64(sc, (b * K + k) * S + i);
        if (!isnan(s) && (!has_sthr || s > sthr)) cand[nc].s = s, cand[nc].i = i, nc++; /* NaN scores are never selected */
      }
      qsort(cand, (size_t)nc, sizeof *cand, by_score);
      memset(kept, 0, sizeof(uint64_t) * (size_t)(nk / 64 + 1));
      double hmax = 0; /* the tallest kept box's y_max - y_min */
      for (int64_t c = 0; c < nc && ns < max_out; c++) {
        const int64_t i = cand[c].i;
        const double *box = cor + 4 * i;
        int keep = 1;
        if (area[i] > 0) {
          /* kept boxes with y_min in [lo, y_max): below lo a kept box ends before this one starts
           * (lo is y_min less hmax and a margin far above the rounding of y_max - y_min) */
          const double lo = box[0] - (hmax + (fabs(box[0]) + hmax) * 1e-9);
          const int64_t r0 = lo > -INFINITY ? lower_bound(keys, nk, lo) : 0, r1 = lower_bound(keys, nk, box[2]);
          for (int64_t w = r0 / 64; w <= (r1 - 1) / 64 && r0 < r1 && keep; w++) {
            uint64_t bits = kept[w];
            if (w == r0 / 64) bits &= ~(uint64_t)0 << (r0 % 64);
            if (w == (r1 - 1) / 64 && r1 % 64) bits &= ~(uint64_t)0 >> (64 - r1 % 64);
            for (; bits && keep; bits &= bits - 1) {
              const int64_t j = keys[w * 64 + __builtin_ctzll(bits)].i;
              keep = !suppresses_pos(cor + 4 * j, box, area[j], area[i], iou);
            }
          }
          if (keep) {
            kept[rank[i] / 64] |= (uint64_t)1 << (rank[i] % 64);
            hmax = box[2] - box[0] > hmax ? box[2] - box[0] : hmax;
          }
        }
        if (keep) sel[ns++] = i;
      }
      if (n + ns > rows_cap) {
        int64_t nc2 = rows_cap * 2 > n + ns ? rows_cap * 2 : n + ns;
        int64_t *r2 = realloc(rows, sizeof(int64_t) * (size_t)(3 * nc2));
        if (!r2) { st = cquant__node_error(node, CQUANT_STATUS_OUT_OF_MEMORY, "out of memory"); goto done; }
        rows = r2, rows_cap = nc2;
      }
      for (int64_t j = 0; j < ns; j++) rows[3 * n] = b, rows[3 * n + 1] = k, rows[3 * n + 2] = sel[j], n++;
    }
  }
  const int64_t shape[2] = {n, 3};
  if (!(st = cquant_array_alloc(&out[0], CQUANT_DT_S64, 2, shape)) && n) memcpy(out[0].data, rows, sizeof(int64_t) * (size_t)(3 * n));
done:
  free(cor), free(cand), free(keys), free(rank), free(kept), free(sel), free(rows);
  return st;
}
