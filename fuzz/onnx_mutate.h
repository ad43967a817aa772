/* The ONNX fuzz harness shared by the libFuzzer target (fuzz/fuzz_onnx.c, scripts/fuzz) and the
 * suite's deterministic mutation test (tests/test_onnx_mutate.c): a structure-aware mutator of
 * serialized ModelProtos and a runner that loads a model, feeds it inputs made from its declared
 * input types and shapes and runs it as written and in its integer form. */
#ifndef CQUANT_FUZZ_ONNX_MUTATE_H
#define CQUANT_FUZZ_ONNX_MUTATE_H

#include <stddef.h>
#include <stdint.h>

/* Counts of what cquant_fuzz_onnx_exec got through (callers add them up). */
typedef struct {
  long runs;       /* calls */
  long loaded;     /* cquant_onnx_load_buffer accepted the bytes */
  long fed;        /* inputs could be made from the declared types and shapes */
  long ran;        /* the float run succeeded */
  long integer;    /* cquant_onnx_integerize succeeded */
  long ran_int;    /* the integer form ran too */
} cquant_fuzz_onnx_stats_t;

/* Bounds that keep one mutated model cheap: tensors of at most 16 MiB (cquant_array_set_limit) and
 * Loops of at most 2^10 iterations. Process-wide; returns nothing, call once before running. */
void cquant_fuzz_onnx_limits(void);

/* Loads data as a model; if it loads, runs it on inputs made from the declared element types and
 * shapes (symbolic dimensions 1 to 4, at most 2^16 elements per input), then integerizes it and runs
 * that. Every failure must come with a message and leave no outputs: returns 0 when the library kept
 * that contract, -1 (with why in *why) when it did not. stats may be NULL. */
int cquant_fuzz_onnx_exec(const uint8_t *data, size_t size, cquant_fuzz_onnx_stats_t *stats, const char **why);

/* Mutates the serialized ModelProto data[0..size) in place (at most max_size bytes): decodes it with
 * protobuf-c, changes one to three fields that matter (attribute values, names and types, tensor
 * dims, types and contents, value_info shapes and types, op_type among the operators cquant runs,
 * node inputs and outputs, node order, deleted and duplicated nodes, opset versions, subgraph
 * inputs, outputs and branches) and encodes it again. Returns the new size, or 0 when data is not a
 * ModelProto or the result would not fit (the caller then mutates bytes). Deterministic in seed. */
size_t cquant_fuzz_onnx_mutate(uint8_t *data, size_t size, size_t max_size, uint32_t seed);

#endif
