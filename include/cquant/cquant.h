/* cquant: neural-network quantization. The umbrella header. */
#ifndef CQUANT_H
#define CQUANT_H

#include "cquant/status.h"
#include "cquant/dtype.h"
#include "cquant/convert.h"
#include "cquant/qparams.h"
#include "cquant/quantize.h"
#include "cquant/error_report.h"
#include "cquant/array.h"
#include "cquant/npy.h"
#include "cquant/io.h"
#include "cquant/cpu.h"
#include "cquant/calib.h"
#include "cquant/onnx.h"
#include "cquant/intops.h"
#include "cquant/dataset.h"
#include "cquant/data.h"
#include "cquant/ptq.h"
#include "cquant/qat.h"

#define CQUANT_VERSION_STRING "0.1.0"

#endif
