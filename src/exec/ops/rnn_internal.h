/* Internal to the rnn family (src/exec/ops/rnn*.c): the signal operators of rnn_signal.c, listed
 * in rnn.c's table. */
#ifndef CQUANT_EXEC_OPS_RNN_INTERNAL_H
#define CQUANT_EXEC_OPS_RNN_INTERNAL_H

#include "exec/exec_internal.h"

#endif
