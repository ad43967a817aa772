/* The training loop: the labelled source read into memory once, a seeded shuffle per epoch
 * (splitmix64 + Fisher-Yates: the same order for a given seed on every machine), minibatch steps
 * with the schedule's learning rate, BatchNorm statistics frozen after freeze_bn_after epochs,
 * progress through the callback, evaluation after each epoch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "qat/qat_internal.h"

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
  float *x;
  int64_t *y;
  int64_t n, per, cap;
  int ndim;
  int64_t shape[CQUANT_MAX_DIMS];
} dataset_t;

static int load_all(cquant_data_t *d, dataset_t *ds) {
  memset(ds, 0, sizeof *ds);
  int st = cquant_data_rewind(d);
  const cquant_array_t *x;
  const int64_t *labels;
  int64_t first;
  while (!st && (st = cquant_data_next(d, &x, &labels, &first)) == 1) {
    st = 0;
    if (!labels) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: '%s' has no labels (training needs them)", cquant_data_name(d));
    if (x->dtype != CQUANT_DT_F32 || x->ndim < 1) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: '%s' is not float32", cquant_data_name(d));
    const int64_t n = x->shape[0], per = n ? x->numel / n : 0;
    if (!ds->n) {
      ds->per = per, ds->ndim = x->ndim;
      memcpy(ds->shape, x->shape, sizeof ds->shape);
    } else if (per != ds->per) {
      return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: the samples of '%s' differ in size", cquant_data_name(d));
    }
    if (ds->n + n > ds->cap) {
      int64_t cap = (ds->n + n) * 2;
      float *nx = realloc(ds->x, sizeof(float) * (size_t)(cap * per));
      if (nx) ds->x = nx;
      int64_t *ny = realloc(ds->y, sizeof(int64_t) * (size_t)cap);
      if (ny) ds->y = ny;
      if (!nx || !ny) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory for the training data");
      ds->cap = cap;
    }
    memcpy(ds->x + ds->n * per, x->data, sizeof(float) * (size_t)(n * per));
    memcpy(ds->y + ds->n, labels, sizeof(int64_t) * (size_t)n);
    ds->n += n;
  }
  if (st < 0) return st;
  if (!ds->n) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: '%s' is empty", cquant_data_name(d));
  return 0;
}

int cquant_qat_train(cquant_qat_t *q, cquant_data_t *d, cquant_data_t *eval, cquant_qat_result_t *r) {
  if (!q || !d) return cquant__error(CQUANT_STATUS_INVALID_ARGUMENT, "qat: NULL argument");
  cquant_qat_result_t res;
  memset(&res, 0, sizeof res);
  dataset_t ds;
  cquant_array_t xb = {0};
  int64_t *perm = NULL, *yb = NULL;
  int st = load_all(d, &ds);
  const int64_t B = q->opt.batch;
  if (!st) {
    int64_t sh[CQUANT_MAX_DIMS];
    memcpy(sh, ds.shape, sizeof sh);
    sh[0] = B;
    st = cquant_array_alloc(&xb, CQUANT_DT_F32, ds.ndim, sh);
    perm = malloc(sizeof(int64_t) * (size_t)ds.n);
    yb = malloc(sizeof(int64_t) * (size_t)B);
    if (!st && (!perm || !yb)) st = cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "qat: out of memory");
  }
  const int64_t spe = (ds.n + B - 1) / (B ? B : 1);
  int64_t total = spe * q->opt.epochs;
  if (q->opt.max_steps > 0 && q->opt.max_steps < total) total = q->opt.max_steps;
  const double t0 = now();
  cquant_qat_progress_t pr = {0};
  pr.epochs = q->opt.epochs, pr.steps = total;
  for (int ep = 0; ep < q->opt.epochs && !st && q->step < total; ep++) {
    if (q->opt.freeze_bn_after >= 0 && ep >= q->opt.freeze_bn_after) q->bn_frozen = 1;
    uint64_t seed = q->opt.seed * 0x100000001B3ull + (uint64_t)ep;
    for (int64_t i = 0; i < ds.n; i++) perm[i] = i;
    for (int64_t i = ds.n - 1; i > 0; i--) {
      const int64_t j = (int64_t)(splitmix64(&seed) % (uint64_t)(i + 1)), t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
    double sum_loss = 0;
    int64_t seen = 0, correct = 0;
    const double te = now();
    for (int64_t b0 = 0; b0 < ds.n && !st && q->step < total; b0 += B) {
      if (q->opt.interrupt && *q->opt.interrupt) {
        st = cquant__error(CQUANT_STATUS_IO, "qat: interrupted at step %lld", (long long)q->step);
        break;
      }
      const int64_t nb = ds.n - b0 < B ? ds.n - b0 : B;
      xb.shape[0] = nb, xb.numel = nb * ds.per;
      for (int64_t i = 0; i < nb; i++) {
        memcpy((float *)xb.data + i * ds.per, ds.x + perm[b0 + i] * ds.per, sizeof(float) * (size_t)ds.per);
        yb[i] = ds.y[perm[b0 + i]];
      }
      double loss;
      int64_t ok;
      if ((st = cquant_qat_step_grad(q, &xb, yb, 1, &loss, &ok))) {
        if (st == CQUANT_STATUS_NOT_FINITE)
          cquant__error(st, "qat: the loss became %g at step %lld (epoch %d); lower the learning rate", loss, (long long)q->step, ep + 1);
        break;
      }
      const double lr = cquant__qat_lr(&q->opt, q->step, spe, total);
      cquant__qat_update(q, lr);
      q->step++;
      sum_loss += loss * (double)nb, seen += nb, correct += ok;
      if (q->opt.progress && (q->step % (q->opt.progress_every > 0 ? q->opt.progress_every : 50) == 0 || b0 + B >= ds.n)) {
        pr.epoch = ep + 1, pr.step = q->step, pr.loss = sum_loss / (double)seen, pr.top1 = 100.0 * (double)correct / (double)seen;
        pr.lr = lr, pr.seconds = now() - t0, pr.eval_done = 0;
        q->opt.progress(&pr, q->opt.user);
      }
    }
    if (st) break;
    res.seconds_per_epoch = now() - te;
    res.final_loss = seen ? sum_loss / (double)seen : 0;
    res.train_top1 = seen ? 100.0 * (double)correct / (double)seen : 0;
    res.samples += seen;
    if (eval) {
      cquant_eval_result_t er;
      if ((st = cquant_qat_evaluate(q, eval, &er, NULL))) break;
      res.evaluated = 1, res.eval_top1 = er.top1;
      if (q->opt.progress) {
        pr.epoch = ep + 1, pr.step = q->step, pr.seconds = now() - t0, pr.eval_done = 1, pr.eval_top1 = er.top1;
        q->opt.progress(&pr, q->opt.user);
      }
    }
  }
  res.steps = q->step;
  res.seconds = now() - t0;
  if (r) *r = res;
  free(ds.x), free(ds.y), free(perm), free(yb);
  cquant_array_free(&xb);
  return st;
}
