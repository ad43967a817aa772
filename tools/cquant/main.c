/* cquant: the command-line tool. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
} commands[] = {
    {"dtypes", cmd_dtypes, "print the data types cquant knows, with their ranges"},
    {"quantize", cmd_quantize, "quantize a float .npy tensor to integers (or FP8)"},
    {"dequantize", cmd_dequantize, "turn quantized integers back into float32"},
    {"fake-quant", cmd_fake_quant, "quantize and dequantize in one pass (float32 out)"},
    {"calibrate", cmd_calibrate, "estimate ranges from .npy batches: minmax, ema, percentile, entropy, mse"},
    {"ops", cmd_ops, "list the ONNX operators the executor runs (domain and type)"},
    {"run", cmd_run, "run an ONNX model on .npy or .pb inputs (quantized and float operators)"},
    {"ptq", cmd_ptq, "post-training quantization of an ONNX model: calibrate, export QDQ/QLinear, evaluate, report"},
    {"qat", cmd_qat, "quantization-aware training of an ONNX classifier (STE or LSQ), written as QDQ ONNX"},
    {"eval", cmd_eval, "top-1 accuracy and latency of an ONNX classifier on fashion-mnist"},
    {"error", cmd_error, "compare a tensor with its reference: MSE, SQNR, clipping vs rounding"},
    {"demo", cmd_demo, "the built-in demonstration: round trips on generated data, no files needed"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: cquant COMMAND [options]   (cquant COMMAND --help for each)\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nenvironment: CQUANT_ISA=ref|avx2|avx512 lowers the kernels' instruction set.\n");
}

int main(int argc, char **argv) {
  /* The executor allocates and frees activation buffers of a few MB for every node of every batch:
   * keep them in the heap instead of fresh mmaps (which cost a page fault per 4 KiB each time). */
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  if (argc < 2) {
    usage(stderr);
    return 1;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("cquant %s (kernels: %s)\n", CQUANT_VERSION_STRING, cquant_isa_name(cquant_isa_active()));
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  cli_fail("unknown command '%s' (cquant --help lists them)", argv[1]);
  return 1;
}
