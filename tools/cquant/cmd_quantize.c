/* cquant quantize / fake-quant / dequantize. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

typedef struct {
  const char *in, *out, *qp_out, *qp_in, *dtype;
  int symmetric; /* -1: the type's default (signed: symmetric, unsigned: asymmetric) */
  int narrow, pack, short_group, has_scale, has_zp, threads;
  cquant_granularity_t gran;
  long long axis, group;
  double scale;
  long long zp;
  cquant_round_t rounding;
  int calib;          /* -1: plain min-max; else a cquant_calib_method_t */
  double percentile;
} qopts_t;

static const char *help_cmd = "quantize";

static void quantize_help(void) {
  const char *cmd = help_cmd;
  int fq = !strcmp(cmd, "fake-quant");
  printf("usage: cquant %s IN.npy -o OUT.npy [options]\n\n", cmd);
  printf("%s", fq ? "Quantizes and dequantizes IN (float32/float16) in one pass; OUT is float32.\n"
                  : "Quantizes IN (float32/float16) with q = saturate(round_half_even(r / s) + z).\n"
                    "OUT holds the integers: int8 for int8/int4/int2, uint8 for uint8/uint4/uint2 and\n"
                    "the FP8 bit patterns, int16 for int16 (sub-byte types one per element unless --pack).\n");
  printf("\noptions:\n"
         "  --dtype T             int8 (default), uint8, int4, uint4, int2, uint2, int16, fp8e4m3, fp8e5m2\n"
         "  --symmetric           z = 0 (signed) or mid-range (unsigned); default for signed types\n"
         "  --asymmetric          z from [min, max]; default for unsigned types\n"
         "  --narrow-range        signed q in [-qmax, qmax], s = amax/qmax (TFLite/TensorRT)\n"
         "  --per-tensor          one scale for the whole tensor (default)\n"
         "  --per-channel AXIS    one scale per index along AXIS\n"
         "  --per-group AXIS:G    one scale per G consecutive elements along AXIS; G must divide the\n"
         "                        axis unless --short-last-group (then the last group is shorter)\n"
         "  --scale S             use this scale (per-tensor) instead of min-max of the data\n"
         "  --zero-point Z        with --scale (default 0)\n"
         "  --load-qparams F.json use the parameters in F (as written by --qparams or calibrate --json;\n"
         "                        per-tensor ones fit any shape, per-channel ones any with that axis)\n"
         "  --calib METHOD        choose the range with a calibration method instead of min-max:\n"
         "                        minmax, ema, percentile, entropy, mse (see cquant calibrate --help)\n"
         "  --percentile P        for --calib percentile (default 99.99)\n"
         "  --rounding div|recip  r/s (ONNX, default) or r*(1/s) (PyTorch/FBGEMM)\n"
         "  --threads N           threads for the kernels (default: all cores)\n");
  if (!fq)
    printf("  --qparams F.json      write the parameters used (needed by cquant dequantize)\n"
           "  --pack                pack int4/uint4 two per byte, int2/uint2 four per byte (low bits first)\n");
  printf("\nNaN or Inf in IN is an error (cquant does not guess a value for them). The range comes from\n"
         "min-max of the data unless --scale or --load-qparams is given. OUT is written whole or not at all.\n");
}

static int parse_qopts(int argc, char **argv, qopts_t *o, int fq) {
  memset(o, 0, sizeof *o);
  o->symmetric = -1;
  o->dtype = "int8";
  o->gran = CQUANT_PER_TENSOR;
  o->calib = -1;
  o->percentile = 99.99;
  const char *per_group = NULL, *scale = NULL, *calib = NULL, *pos[1] = {NULL};
  int rounding = 0, per_tensor = 0;
  long long threads = 0;
  static const char *const roundings[] = {"div", "recip", NULL};
  cli_opt_t opts[] = {
      {.name = "--output", .alias = "-o", .kind = CLI_STR, .dst = &o->out},
      {.name = "--dtype", .kind = CLI_STR, .dst = &o->dtype},
      {.name = "--symmetric", .kind = CLI_FLAG, .dst = &o->symmetric, .ival = 1},
      {.name = "--asymmetric", .kind = CLI_FLAG, .dst = &o->symmetric, .ival = 0},
      {.name = "--narrow-range", .kind = CLI_FLAG, .dst = &o->narrow, .ival = 1},
      {.name = "--short-last-group", .kind = CLI_FLAG, .dst = &o->short_group, .ival = 1},
      {.name = "--per-tensor", .kind = CLI_FLAG, .dst = &per_tensor, .ival = 1},
      {.name = "--per-channel", .kind = CLI_INT, .dst = &o->axis, .err = "--per-channel: '%s' is not an axis number"},
      {.name = "--per-group", .kind = CLI_STR, .dst = &per_group},
      {.name = "--scale", .kind = CLI_STR, .dst = &scale},
      {.name = "--zero-point", .kind = CLI_INT, .dst = &o->zp, .err = "--zero-point: '%s' is not an integer"},
      {.name = "--load-qparams", .kind = CLI_STR, .dst = &o->qp_in},
      {.name = "--rounding", .kind = CLI_CHOICE, .dst = &rounding, .choices = roundings},
      {.name = "--calib", .kind = CLI_STR, .dst = &calib},
      {.name = "--percentile", .kind = CLI_FLOAT, .dst = &o->percentile, .lo = 0, .hi = 100, .flags = CLI_LO_OPEN,
       .err = "--percentile %s: must be a number in (0, 100]"},
      {.name = "--threads", .kind = CLI_INT, .dst = &threads, .lo = 1, .hi = 1024, .err = "--threads: '%s' is not a thread count"},
      /* quantize only: for fake-quant the table ends here */
      {.name = fq ? NULL : "--qparams", .kind = CLI_STR, .dst = &o->qp_out},
      {.name = "--pack", .kind = CLI_FLAG, .dst = &o->pack, .ival = 1},
      {0}};
  help_cmd = argv[0];
  int npos, r = cli_args_parse(argc, argv, opts, pos, 1, &npos, quantize_help);
  if (r) return r;
  o->in = pos[0];
  /* the last of --per-tensor, --per-channel, --per-group wins */
  const int lt = cli_last(opts, "--per-tensor"), lc = cli_last(opts, "--per-channel"), lg = cli_last(opts, "--per-group");
  if (lc > lt && lc > lg) o->gran = CQUANT_PER_CHANNEL;
  else if (lg > lt && lg > lc) {
    const char *v = per_group, *colon = strchr(v, ':');
    char ax[32];
    if (!colon || (size_t)(colon - v) >= sizeof ax) return cli_fail("--per-group wants AXIS:SIZE, got '%s'", v);
    memcpy(ax, v, (size_t)(colon - v));
    ax[colon - v] = 0;
    if (cli_parse_int(ax, &o->axis) || cli_parse_int(colon + 1, &o->group) || o->group < 1)
      return cli_fail("--per-group wants AXIS:SIZE with SIZE >= 1, got '%s'", v);
    o->gran = CQUANT_PER_GROUP;
  }
  if (scale) {
    if (cli_parse_float(scale, &o->scale)) return cli_fail("--scale: '%s' is not a number", scale);
    if (!(o->scale > 0) || !isfinite(o->scale) || (float)o->scale <= 0.0f)
      return cli_fail("--scale %s: a scale must be finite and greater than 0", scale);
    o->has_scale = 1;
  }
  o->has_zp = cli_seen(opts, "--zero-point") > 0;
  o->rounding = rounding ? CQUANT_ROUND_RECIP : CQUANT_ROUND_DIV;
  if (calib) {
    cquant_calib_method_t m;
    if (cquant_calib_method_from_name(calib, &m)) return cli_fail_status(1);
    o->calib = (int)m;
  }
  o->threads = (int)threads;
  if (!o->in) return cli_fail("no input file (cquant %s --help)", argv[0]);
  if (!o->out) return cli_fail("no output file: give -o OUT.npy");
  if (o->has_zp && !o->has_scale) return cli_fail("--zero-point needs --scale");
  if (o->has_scale && o->gran != CQUANT_PER_TENSOR)
    return cli_fail("--scale gives one per-tensor scale; use --load-qparams for per-channel or per-group scales");
  if (o->qp_in && (o->has_scale || o->gran != CQUANT_PER_TENSOR))
    return cli_fail("--load-qparams already fixes the scales and layout; drop --scale/--per-channel/--per-group");
  if (o->calib >= 0 && (o->has_scale || o->qp_in))
    return cli_fail("--calib estimates the range; it does not combine with --scale or --load-qparams");
  if (o->calib >= 0 && o->gran == CQUANT_PER_GROUP) return cli_fail("--calib works per-tensor or per-channel, not per-group");
  if (o->threads) cquant_set_num_threads(o->threads);
  return 0;
}

/* Builds the parameters for tensor x from the options. */
static int make_qparams(const qopts_t *o, const cquant_array_t *x, cquant_qparams_t **qp) {
  int st;
  if (o->qp_in) {
    cquant_qparams_t *loaded;
    if ((st = cquant_qparams_load_for(o->qp_in, x->ndim, x->shape, &loaded, NULL))) return cli_fail_status(st);
    st = cquant_qparams_rebind(loaded, x->ndim, x->shape, qp); /* per-tensor fits any shape */
    cquant_qparams_destroy(loaded);
    if (st) return cli_fail("%s does not fit %s: %s", o->qp_in, o->in, cquant_last_error());
    return 0;
  }
  cquant_dtype_t dt;
  if ((st = cquant_dtype_from_name(o->dtype, &dt))) return cli_fail_status(st);
  const cquant_dtype_info_t *info = cquant_dtype_info(dt);
  if (!(dt >= CQUANT_DT_S8 && dt <= CQUANT_DT_S16) && dt != CQUANT_DT_F8E4M3 && dt != CQUANT_DT_F8E5M2)
    return cli_fail("--dtype %s is not a quantization target (int8, uint8, int4, uint4, int2, uint2, int16, fp8e4m3, fp8e5m2)", o->dtype);
  int sym = o->symmetric < 0 ? info->is_signed : o->symmetric;
  unsigned flags = (sym ? CQUANT_QF_SYMMETRIC : 0) | (o->narrow ? CQUANT_QF_NARROW_RANGE : 0) |
                   (o->short_group ? CQUANT_QF_ALLOW_SHORT_GROUP : 0);
  if (o->narrow && !info->is_signed) return cli_fail("--narrow-range applies to signed types only");
  if (o->gran != CQUANT_PER_TENSOR && (o->axis < 0 || o->axis >= x->ndim))
    return cli_fail("axis %lld out of range for %s, a %d-d tensor", o->axis, o->in, x->ndim);
  if ((st = cquant_qparams_create(dt, o->gran, (int)o->axis, o->group, flags, x->ndim, x->shape, qp)))
    return cli_fail_status(st);
  (*qp)->rounding = o->rounding;
  if (o->has_scale) {
    int32_t qmin = (*qp)->qmin, qmax = (*qp)->qmax;
    if (info->is_float && o->zp) {
      cquant_qparams_destroy(*qp);
      return cli_fail("--zero-point: FP8 quantization has no zero-point");
    }
    if (!info->is_float && (o->zp < qmin || o->zp > qmax)) {
      cquant_qparams_destroy(*qp);
      return cli_fail("--zero-point %lld outside the %s range [%d, %d]", o->zp, info->name, qmin, qmax);
    }
    (*qp)->scale[0] = (float)o->scale;
    (*qp)->zero_point[0] = (int32_t)o->zp;
    return 0;
  }
  if (o->calib >= 0) { /* a calibration observer on this one tensor instead of min-max */
    if (info->is_float) { cquant_qparams_destroy(*qp); return cli_fail("--calib applies to integer types"); }
    cquant_calib_config_t cfg;
    cquant_calib_config_default(&cfg, (cquant_calib_method_t)o->calib);
    cfg.dtype = dt;
    cfg.flags = flags & (CQUANT_QF_SYMMETRIC | CQUANT_QF_NARROW_RANGE);
    cfg.axis = o->gran == CQUANT_PER_CHANNEL ? (int)o->axis : -1;
    cfg.percentile = o->percentile;
    cquant_observer_t *obs;
    cquant_qparams_t *cq = NULL;
    cquant_qparams_destroy(*qp);
    *qp = NULL;
    if ((st = cquant_observer_create(&cfg, &obs))) return cli_fail_status(st);
    if (!(st = cquant_observer_update(obs, x->data, x->ndim, x->shape))) st = cquant_observer_qparams(obs, x->ndim, x->shape, &cq);
    cquant_observer_destroy(obs);
    if (st) return cli_fail_status(st);
    cq->rounding = o->rounding;
    *qp = cq;
    return 0;
  }
  if ((st = cquant_qparams_minmax(*qp, x->data))) goto fail;
  return 0;
fail:
  cquant_qparams_destroy(*qp);
  return cli_fail_status(st);
}

static void print_qparams(const cquant_qparams_t *qp) {
  static const char *g[] = {"per-tensor", "per-channel", "per-group"};
  float smin = INFINITY, smax = -INFINITY;
  int32_t zmin = INT32_MAX, zmax = INT32_MIN;
  for (int64_t i = 0; i < qp->count; i++) {
    smin = fminf(smin, qp->scale[i]);
    smax = fmaxf(smax, qp->scale[i]);
    zmin = qp->zero_point[i] < zmin ? qp->zero_point[i] : zmin;
    zmax = qp->zero_point[i] > zmax ? qp->zero_point[i] : zmax;
  }
  printf("%s %s", cquant_dtype_info(qp->dtype)->name, g[qp->granularity]);
  if (qp->granularity == CQUANT_PER_CHANNEL) printf(" (axis %d)", qp->axis);
  if (qp->granularity == CQUANT_PER_GROUP) printf(" (axis %d, groups of %lld)", qp->axis, (long long)qp->group_size);
  printf(", %s%s, q in [%d, %d]\n", (qp->flags & CQUANT_QF_SYMMETRIC) ? "symmetric" : "asymmetric",
         (qp->flags & CQUANT_QF_NARROW_RANGE) ? " narrow-range" : "", qp->qmin, qp->qmax);
  if (qp->count == 1) printf("  scale %.9g, zero-point %d\n", qp->scale[0], qp->zero_point[0]);
  else printf("  %lld scales in [%.9g, %.9g], zero-points in [%d, %d]\n", (long long)qp->count, smin, smax, zmin, zmax);
}

/* Fake-quantizes x with qp and prints the error report. */
static int report_error(const cquant_array_t *x, const cquant_qparams_t *qp) {
  float *y = malloc((size_t)(x->numel ? x->numel : 1) * sizeof(float));
  if (!y) return cli_fail("out of memory");
  cquant_error_report_t r;
  int st = cquant_fake_quantize(x->data, qp, y);
  if (!st) st = cquant_error_report(x->data, y, (size_t)x->numel, qp, &r);
  free(y);
  if (st) return cli_fail_status(st);
  printf("error of the round trip:\n");
  cli_print_report(stdout, &r);
  return 0;
}

/* The .npy type that holds unpacked quantized values of dt. */
static cquant_dtype_t storage_type(cquant_dtype_t dt) {
  switch (dt) {
    case CQUANT_DT_S8: case CQUANT_DT_S4: case CQUANT_DT_S2: return CQUANT_DT_S8;
    case CQUANT_DT_S16: return CQUANT_DT_S16;
    case CQUANT_DT_S32: return CQUANT_DT_S32;
    default: return CQUANT_DT_U8; /* u8 u4 u2 and the FP8 bit patterns */
  }
}

int cmd_quantize(int argc, char **argv) {
  qopts_t o;
  int r = parse_qopts(argc, argv, &o, 0);
  if (r) return r == 2 ? 0 : r;
  cquant_array_t x;
  if ((r = cli_load_float(o.in, &x))) return r;
  cquant_qparams_t *qp = NULL;
  if ((r = make_qparams(&o, &x, &qp))) { cquant_array_free(&x); return r; }
  const cquant_dtype_info_t *info = cquant_dtype_info(qp->dtype);
  if (o.pack && (info->bits >= 8)) { r = cli_fail("--pack applies to int4/uint4/int2/uint2 only"); goto done; }
  cquant_layout_t layout = o.pack ? CQUANT_LAYOUT_PACKED : CQUANT_LAYOUT_UNPACKED;
  size_t nb = cquant_quantized_size(qp, layout);
  void *q = malloc(nb ? nb : 1);
  if (!q) { r = cli_fail("out of memory for %zu bytes", nb); goto done; }
  int st = cquant_quantize(x.data, qp, layout, q);
  if (!st) {
    if (o.pack) {
      int64_t len = (int64_t)nb;
      st = cquant_npy_save(o.out, CQUANT_DT_U8, 1, &len, q);
    } else {
      st = cquant_npy_save(o.out, storage_type(qp->dtype), x.ndim, x.shape, q);
    }
  }
  if (!st && o.qp_out) st = cquant_qparams_save(o.qp_out, qp, layout);
  free(q);
  if (st) { r = cli_fail_status(st); goto done; }
  print_qparams(qp);
  printf("wrote %s (%zu bytes of %s%s)%s%s\n", o.out, nb, info->name, o.pack ? ", packed" : "",
         o.qp_out ? " and " : "", o.qp_out ? o.qp_out : "");
  r = report_error(&x, qp);
done:
  cquant_qparams_destroy(qp);
  cquant_array_free(&x);
  return r;
}

int cmd_fake_quant(int argc, char **argv) {
  qopts_t o;
  int r = parse_qopts(argc, argv, &o, 1);
  if (r) return r == 2 ? 0 : r;
  cquant_array_t x, y;
  if ((r = cli_load_float(o.in, &x))) return r;
  cquant_qparams_t *qp = NULL;
  if ((r = make_qparams(&o, &x, &qp))) { cquant_array_free(&x); return r; }
  int st = cquant_array_alloc(&y, CQUANT_DT_F32, x.ndim, x.shape);
  if (!st) st = cquant_fake_quantize(x.data, qp, y.data);
  if (!st) st = cquant_npy_save(o.out, CQUANT_DT_F32, y.ndim, y.shape, y.data);
  if (st) r = cli_fail_status(st);
  else {
    print_qparams(qp);
    printf("wrote %s\n", o.out);
    r = report_error(&x, qp);
  }
  cquant_array_free(&y);
  cquant_qparams_destroy(qp);
  cquant_array_free(&x);
  return r;
}

/* Copies integers of any stored type into the container of dt, refusing values that do not fit. */
static int to_container(const cquant_array_t *a, const cquant_qparams_t *qp, void *dst, const char *path) {
  cquant_dtype_t ct = storage_type(qp->dtype);
  for (int64_t i = 0; i < a->numel; i++) {
    int64_t v;
    switch (a->dtype) {
      case CQUANT_DT_S8: v = ((const int8_t *)a->data)[i]; break;
      case CQUANT_DT_U8: v = ((const uint8_t *)a->data)[i]; break;
      case CQUANT_DT_S16: v = ((const int16_t *)a->data)[i]; break;
      case CQUANT_DT_S32: v = ((const int32_t *)a->data)[i]; break;
      case CQUANT_DT_S64: v = ((const int64_t *)a->data)[i]; break;
      default: return cli_fail("%s holds %s; quantized integers are needed", path, cquant_dtype_info(a->dtype)->name);
    }
    int fp8 = cquant_dtype_info(qp->dtype)->is_float;
    if (fp8 ? (v < 0 || v > 255) : (v < qp->qmin || v > qp->qmax))
      return cli_fail("%s: element %lld = %lld lies outside the %s range [%d, %d]", path, (long long)i,
                      (long long)v, cquant_dtype_info(qp->dtype)->name, fp8 ? 0 : qp->qmin, fp8 ? 255 : qp->qmax);
    if (ct == CQUANT_DT_S8) ((int8_t *)dst)[i] = (int8_t)v;
    else if (ct == CQUANT_DT_U8) ((uint8_t *)dst)[i] = (uint8_t)v;
    else if (ct == CQUANT_DT_S16) ((int16_t *)dst)[i] = (int16_t)v;
    else ((int32_t *)dst)[i] = (int32_t)v;
  }
  return 0;
}

static void dequantize_help(void) {
  printf("usage: cquant dequantize Q.npy --qparams QP.json -o OUT.npy\n\n"
         "Computes r = s (q - z) (FP8: r = s * fp8(q)) with the parameters that cquant quantize\n"
         "wrote to QP.json. Q.npy holds the integers as quantize wrote them (packed when QP.json\n"
         "says so). OUT is float32, written whole or not at all.\n");
}

int cmd_dequantize(int argc, char **argv) {
  const char *out = NULL, *qpath = NULL, *pos[1] = {NULL};
  cli_opt_t opts[] = {{.name = "--output", .alias = "-o", .kind = CLI_STR, .dst = &out},
                      {.name = "--qparams", .kind = CLI_STR, .dst = &qpath},
                      {0}};
  int npos, pr = cli_args_parse(argc, argv, opts, pos, 1, &npos, dequantize_help);
  if (pr) return pr == 2 ? 0 : 1;
  const char *in = pos[0];
  if (!in) return cli_fail("no input file (cquant dequantize --help)");
  if (!qpath) return cli_fail("dequantize needs --qparams QP.json (written by cquant quantize --qparams)");
  if (!out) return cli_fail("no output file: give -o OUT.npy");
  cquant_qparams_t *qp;
  cquant_layout_t layout;
  cquant_array_t q, y;
  memset(&y, 0, sizeof y);
  int st = cquant_npy_load(in, &q), r = 0;
  if (st) return cli_fail_status(st);
  /* a hand-written QP.json may leave out the shape: it is then Q.npy's */
  if ((st = cquant_qparams_load_for(qpath, q.ndim, q.shape, &qp, &layout))) { cquant_array_free(&q); return cli_fail_status(st); }
  size_t need = cquant_quantized_size(qp, layout);
  void *buf = NULL;
  if (layout == CQUANT_LAYOUT_PACKED) {
    if (q.dtype != CQUANT_DT_U8 || (size_t)q.numel != need) {
      r = cli_fail("%s: packed data must be %zu uint8 bytes for the shape in %s, found %lld %s", in, need, qpath,
                   (long long)q.numel, cquant_dtype_info(q.dtype)->name);
      goto done;
    }
    buf = q.data;
  } else {
    if (q.ndim != qp->ndim || memcmp(q.shape, qp->shape, sizeof(int64_t) * (size_t)q.ndim)) {
      r = cli_fail("%s has another shape than %s describes", in, qpath);
      goto done;
    }
    if (!(buf = malloc(need ? need : 1))) { r = cli_fail("out of memory"); goto done; }
    if ((r = to_container(&q, qp, buf, in))) goto done;
  }
  if ((st = cquant_array_alloc(&y, CQUANT_DT_F32, qp->ndim, qp->shape)) ||
      (st = cquant_dequantize(buf, qp, layout, y.data)) ||
      (st = cquant_npy_save(out, CQUANT_DT_F32, y.ndim, y.shape, y.data))) {
    r = cli_fail_status(st);
    goto done;
  }
  printf("wrote %s (%lld float32 values)\n", out, (long long)y.numel);
done:
  if (buf && buf != q.data) free(buf);
  cquant_array_free(&y);
  cquant_array_free(&q);
  cquant_qparams_destroy(qp);
  return r;
}
