/* Internal to the rnn family (src/exec/ops/rnn*.c): the signal operators of rnn_signal.c, listed
 * in rnn.c's table. */
#ifndef CQUANT_EXEC_OPS_RNN_INTERNAL_H
#define CQUANT_EXEC_OPS_RNN_INTERNAL_H

#include "exec/exec_internal.h"

int cquant__op_dft(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_stft(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_window(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);
int cquant__op_mel_weight_matrix(cquant__opctx_t *, const Onnx__NodeProto *, const cquant_array_t *const *, int, cquant_array_t *, int);

#endif
