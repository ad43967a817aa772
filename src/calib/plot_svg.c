/* An SVG picture of a per-tensor observer's histogram: log-scale counts, the chosen range and the
 * min-max range marked, axes labelled. Plain SVG 1.1, readable in any browser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "calib/histogram.h"
#include "io/file.h"

const cquant__hist_t *cquant__observer_hist(const cquant_observer_t *o, float *sel_lo, float *sel_hi, float *dmn, float *dmx);

#define W 900
#define H 420
#define L 80  /* left margin */
#define R 30
#define T 50
#define B 60

static void esc(cquant__sbuf_t *f, const char *s) {
  for (; s && *s; s++) {
    if (*s == '<') cquant__sbuf_printf(f, "&lt;");
    else if (*s == '>') cquant__sbuf_printf(f, "&gt;");
    else if (*s == '&') cquant__sbuf_printf(f, "&amp;");
    else cquant__sbuf_printf(f, "%c", *s);
  }
}

int cquant_observer_plot_svg(cquant_observer_t *o, const char *path, const char *title) {
  float lo, hi, dmn, dmx;
  float rlo[1], rhi[1];
  int st = cquant_observer_ranges(o, rlo, rhi, 1);
  if (st) return st;
  const cquant__hist_t *h = cquant__observer_hist(o, &lo, &hi, &dmn, &dmx);
  if (!h || !h->started) return cquant__error(CQUANT_STATUS_UNSUPPORTED, "plot: only a per-tensor observer with a histogram can be drawn (set keep_histogram for minmax/ema)");
  const double w = cquant__hist_width(h);
  /* the x range: the data, with a margin */
  double x0 = fmin(dmn, lo), x1 = fmax(dmx, hi), pad = (x1 - x0) * 0.03 + 1e-30;
  x0 -= pad;
  x1 += pad;
  /* bars: merge bins so at most 450 bars are drawn */
  const int64_t per = h->nbins / 450 + 1, nbars = (h->nbins + per - 1) / per;
  double *bar = calloc((size_t)nbars, sizeof(double));
  if (!bar) return cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "plot: out of memory");
  double cmax = 1;
  for (int64_t b = 0; b < h->nbins; b++) bar[b / per] += (double)h->counts[b];
  for (int64_t b = 0; b < nbars; b++) cmax = fmax(cmax, bar[b]);
  const double lmax = ceil(log10(cmax + 1));
  cquant__sbuf_t sb = {0}, *f = &sb;
#define PX(v) (L + ((v) - x0) / (x1 - x0) * (W - L - R))
#define PY(c) (H - B - (log10((c) + 1) / lmax) * (H - T - B))
  cquant__sbuf_printf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
  cquant__sbuf_printf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"%d\" y=\"24\" font-size=\"15\">", L);
  esc(f, title);
  cquant__sbuf_printf(f, "</text>\n");
  for (int64_t b = 0; b < nbars; b++) {
    if (!bar[b]) continue;
    double v0 = (double)(h->kmin + b * per) * w, v1 = (double)(h->kmin + (b + 1) * per) * w;
    double xa = PX(v0), xb = PX(v1), y = PY(bar[b]);
    cquant__sbuf_printf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#4a7ebb\"/>\n", xa, y, fmax(xb - xa, 0.6), H - B - y);
  }
  /* axes, ticks, labels */
  cquant__sbuf_printf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B, W - R, H - B);
  cquant__sbuf_printf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, H - B);
  for (int t = 0; t <= 6; t++) {
    double v = x0 + (x1 - x0) * t / 6;
    cquant__sbuf_printf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"black\"/><text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%.4g</text>\n",
            PX(v), H - B, PX(v), H - B + 5, PX(v), H - B + 19, v);
  }
  for (int e = 0; e <= (int)lmax; e++) {
    double c = pow(10, e) - 1;
    cquant__sbuf_printf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"black\"/><text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">1e%d</text>\n",
            L - 5, PY(c), L, PY(c), L - 8, PY(c) + 4, e);
  }
  cquant__sbuf_printf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">value</text>\n", (L + W - R) / 2, H - 18);
  cquant__sbuf_printf(f, "<text transform=\"translate(22 %d) rotate(-90)\" text-anchor=\"middle\">count (log scale)</text>\n", (T + H - B) / 2);
  /* the ranges */
  cquant__sbuf_printf(f, "<g stroke=\"#888\" stroke-width=\"1.5\"><line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/><line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/></g>\n",
          PX(dmn), T, PX(dmn), H - B, PX(dmx), T, PX(dmx), H - B);
  cquant__sbuf_printf(f, "<g stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"6 4\"><line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/><line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/></g>\n",
          PX(lo), T, PX(lo), H - B, PX(hi), T, PX(hi), H - B);
  cquant__sbuf_printf(f, "<text x=\"%d\" y=\"40\" fill=\"#d62728\">chosen range [%.6g, %.6g]</text>\n", L, lo, hi);
  cquant__sbuf_printf(f, "<text x=\"%d\" y=\"40\" fill=\"#666\" text-anchor=\"end\">min-max range [%.6g, %.6g]</text>\n", W - R, dmn, dmx);
  cquant__sbuf_printf(f, "</svg>\n");
#undef PX
#undef PY
  free(bar);
  st = sb.failed ? cquant__error(CQUANT_STATUS_OUT_OF_MEMORY, "plot: out of memory") : cquant_file_write_atomic(path, sb.text, sb.len);
  cquant__sbuf_free(&sb);
  return st;
}
