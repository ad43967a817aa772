/* Sub-byte packing: element i occupies bits [(i mod k) * bits, +bits) of byte i / k, k = 8 / bits,
 * so element 0 sits in the low bits of byte 0 (the ONNX int4 layout). */
#include <string.h>
#include "core/internal.h"

void cquant__pack_bits(const uint8_t *src, size_t n, int bits, uint8_t *dst) {
  const int per = 8 / bits;
  /* the common widths as flat loops the compiler vectorises */
  if (bits == 4) {
    size_t full = n / 2;
    for (size_t b = 0; b < full; b++) dst[b] = (uint8_t)((src[2 * b] & 15) | (src[2 * b + 1] << 4));
    if (n & 1) dst[full] = src[n - 1] & 15;
    return;
  }
  if (bits == 2) {
    size_t full = n / 4;
    for (size_t b = 0; b < full; b++)
      dst[b] = (uint8_t)((src[4 * b] & 3) | ((src[4 * b + 1] & 3) << 2) | ((src[4 * b + 2] & 3) << 4) | (src[4 * b + 3] << 6));
    if (n % 4) {
      uint8_t v = 0;
      for (size_t j = 0; j < n % 4; j++) v |= (uint8_t)((src[full * 4 + j] & 3) << (2 * j));
      dst[full] = v;
    }
    return;
  }
  const uint8_t mask = (uint8_t)((1u << bits) - 1);
  size_t full = n / (size_t)per;
  for (size_t b = 0; b < full; b++) {
    uint8_t v = 0;
    for (int j = 0; j < per; j++) v |= (uint8_t)((src[b * per + j] & mask) << (j * bits));
    dst[b] = v;
  }
  if (n % (size_t)per) { /* a short last byte: its unused high bits are zero */
    uint8_t v = 0;
    for (size_t j = 0; j < n % (size_t)per; j++) v |= (uint8_t)((src[full * per + j] & mask) << (j * bits));
    dst[full] = v;
  }
}

void cquant__unpack_bits(const uint8_t *src, size_t n, int bits, int is_signed, uint8_t *dst) {
  const int per = 8 / bits;
  const unsigned mask = (1u << bits) - 1, signbit = 1u << (bits - 1);
  for (size_t i = 0; i < n; i++) {
    unsigned v = (src[i / per] >> ((i % per) * bits)) & mask;
    if (is_signed && (v & signbit)) v |= ~mask; /* sign-extend into the byte */
    dst[i] = (uint8_t)v;
  }
}
