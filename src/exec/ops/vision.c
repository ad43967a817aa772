/* Operators of the vision family (see exec_internal.h). */
#include "exec/exec_internal.h"

const cquant__op_t cquant__ops_vision[] = {
    {NULL, NULL, 0, 0, 0, 0},
};
