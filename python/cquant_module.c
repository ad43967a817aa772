/* The Python module `cquant`: a CPython extension over libcquant. It parses arguments, calls the
 * library in the order the CLI does (tools/cquant/cmd_*.c) and converts the results; there is no
 * quantization logic here. Errors become exceptions by status (status_error). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <stdlib.h>
#include <string.h>
#include "cquant/cquant.h"

/* ---- errors ------------------------------------------------------------------------------------ */

/* Raises the exception of a library status with cquant_last_error() and returns NULL. */
static PyObject *status_error(int st) {
  PyObject *type;
  switch (st) {
    case CQUANT_STATUS_INVALID_ARGUMENT: case CQUANT_STATUS_OUT_OF_RANGE:
    case CQUANT_STATUS_NOT_FINITE: case CQUANT_STATUS_UNSUPPORTED: type = PyExc_ValueError; break;
    case CQUANT_STATUS_IO: type = PyExc_OSError; break;
    case CQUANT_STATUS_OUT_OF_MEMORY: type = PyExc_MemoryError; break;
    default: type = PyExc_RuntimeError; break;
  }
  const char *detail = cquant_last_error();
  if (detail && *detail) PyErr_Format(type, "%s: %s", cquant_status_str((cquant_status)st), detail);
  else PyErr_SetString(type, cquant_status_str((cquant_status)st));
  return NULL;
}

/* ---- arrays ------------------------------------------------------------------------------------ */

/* A C-contiguous float32 array from obj (float32 as is, float16 widened exactly; other dtypes are
 * refused with TypeError). New reference or NULL. */
static PyArrayObject *as_f32(PyObject *obj, const char *what) {
  if (obj == Py_None) { PyErr_Format(PyExc_TypeError, "%s: a float32 array is needed, not None", what); return NULL; }
  PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(obj);
  if (!a) return NULL;
  int t = PyArray_TYPE(a);
  if (t != NPY_FLOAT32 && t != NPY_FLOAT16) {
    PyErr_Format(PyExc_TypeError, "%s: a float32 (or float16) array is needed, got dtype %s", what,
                 PyArray_DESCR(a)->typeobj->tp_name);
    Py_DECREF(a);
    return NULL;
  }
  if (PyArray_NDIM(a) > CQUANT_MAX_DIMS) {
    PyErr_Format(PyExc_ValueError, "%s: at most %d dimensions, got %d", what, CQUANT_MAX_DIMS, PyArray_NDIM(a));
    Py_DECREF(a);
    return NULL;
  }
  /* no copy when it is float32, C-contiguous and aligned already */
  PyArrayObject *c = (PyArrayObject *)PyArray_FROMANY((PyObject *)a, NPY_FLOAT32, 0, CQUANT_MAX_DIMS,
                                                      NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
  Py_DECREF(a);
  return c;
}

static void shape_of(PyArrayObject *a, int64_t *shape) {
  for (int i = 0; i < PyArray_NDIM(a); i++) shape[i] = (int64_t)PyArray_DIM(a, i);
}

/* NumPy's element types and cquant's, both ways (the ONNX executor takes every one of them). */
static const struct {
  int npy;
  cquant_dtype_t dt;
} npy_types[] = {
    {NPY_FLOAT32, CQUANT_DT_F32}, {NPY_FLOAT16, CQUANT_DT_F16}, {NPY_FLOAT64, CQUANT_DT_F64}, {NPY_INT8, CQUANT_DT_S8},
    {NPY_UINT8, CQUANT_DT_U8},    {NPY_INT16, CQUANT_DT_S16},   {NPY_UINT16, CQUANT_DT_U16},  {NPY_INT32, CQUANT_DT_S32},
    {NPY_UINT32, CQUANT_DT_U32},  {NPY_INT64, CQUANT_DT_S64},   {NPY_UINT64, CQUANT_DT_U64},  {NPY_BOOL, CQUANT_DT_BOOL},
};

static int npy_type_of(cquant_dtype_t dt) {
  for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
    if (npy_types[i].dt == dt) return npy_types[i].npy;
  return -1;
}

static int cquant_type_of(int t, cquant_dtype_t *dt) {
  for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
    if (PyArray_EquivTypenums(npy_types[i].npy, t)) return *dt = npy_types[i].dt, 0;
  return -1;
}

static void capsule_free_array(PyObject *cap) {
  cquant_array_t *a = PyCapsule_GetPointer(cap, "cquant.array");
  if (a) { cquant_array_free(a); free(a); }
}

/* A numpy array that takes over a library array's buffer (no copy); a is zeroed. */
static PyObject *adopt_array(cquant_array_t *a) {
  int t = npy_type_of(a->dtype);
  if (t < 0) { cquant_array_free(a); PyErr_SetString(PyExc_RuntimeError, "library returned an unknown dtype"); return NULL; }
  cquant_array_t *own = malloc(sizeof *own);
  if (!own) { cquant_array_free(a); return PyErr_NoMemory(); }
  *own = *a;
  memset(a, 0, sizeof *a);
  npy_intp dims[CQUANT_MAX_DIMS];
  for (int i = 0; i < own->ndim; i++) dims[i] = (npy_intp)own->shape[i];
  PyObject *cap = PyCapsule_New(own, "cquant.array", capsule_free_array);
  if (!cap) { cquant_array_free(own); free(own); return NULL; }
  PyObject *arr = PyArray_SimpleNewFromData(own->ndim, dims, t, own->data);
  if (!arr) { Py_DECREF(cap); return NULL; }
  if (PyArray_SetBaseObject((PyArrayObject *)arr, cap) < 0) { Py_DECREF(arr); return NULL; }
  return arr;
}

/* A library array holding a copy of obj (numpy dtype kept; `want` >= 0 forces a type), 64-byte
 * aligned as the library allocates them. 0 or -1 with an exception. */
static int copy_to_array(PyObject *obj, int want, const char *what, cquant_array_t *out) {
  memset(out, 0, sizeof *out);
  PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(obj);
  if (!a) return -1;
  cquant_dtype_t dt = CQUANT_DT_F32;
  int t = want >= 0 ? want : PyArray_TYPE(a);
  int ok = !cquant_type_of(t, &dt);
  if (want == NPY_FLOAT32) ok = PyArray_TYPE(a) == NPY_FLOAT32 || PyArray_TYPE(a) == NPY_FLOAT16;
  else if (want == NPY_INT64) ok = PyArray_ISINTEGER(a);
  if (!ok) {
    PyErr_Format(PyExc_TypeError, "%s: unsupported dtype %s%s", what, PyArray_DESCR(a)->typeobj->tp_name,
                 want == NPY_FLOAT32 ? " (float32 or float16 is needed)" : want == NPY_INT64 ? " (integer labels are needed)" : "");
    Py_DECREF(a);
    return -1;
  }
  if (PyArray_NDIM(a) > CQUANT_MAX_DIMS) {
    PyErr_Format(PyExc_ValueError, "%s: at most %d dimensions", what, CQUANT_MAX_DIMS);
    Py_DECREF(a);
    return -1;
  }
  PyArrayObject *c = (PyArrayObject *)PyArray_FROMANY((PyObject *)a, t, 0, CQUANT_MAX_DIMS, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
  Py_DECREF(a);
  if (!c) return -1;
  int64_t shape[CQUANT_MAX_DIMS];
  shape_of(c, shape);
  int st = cquant_array_alloc(out, dt, PyArray_NDIM(c), shape);
  if (st) { Py_DECREF(c); status_error(st); return -1; }
  memcpy(out->data, PyArray_DATA(c), out->nbytes);
  Py_DECREF(c);
  return 0;
}

/* ---- QParams ----------------------------------------------------------------------------------- */

typedef struct {
  PyObject_HEAD
  cquant_qparams_t *qp;
  cquant_layout_t layout;
} QParamsObject;

static PyTypeObject QParamsType;

static PyObject *qparams_wrap(cquant_qparams_t *qp) {
  QParamsObject *o = PyObject_New(QParamsObject, &QParamsType);
  if (!o) { cquant_qparams_destroy(qp); return NULL; }
  o->qp = qp;
  o->layout = CQUANT_LAYOUT_UNPACKED;
  return (PyObject *)o;
}

static void qparams_dealloc(QParamsObject *o) {
  cquant_qparams_destroy(o->qp);
  PyObject_Free(o);
}

static PyObject *qparams_param_array(QParamsObject *o, int zp) {
  const cquant_qparams_t *qp = o->qp;
  int64_t ps[CQUANT_MAX_DIMS];
  npy_intp dims[CQUANT_MAX_DIMS];
  cquant_qparams_param_shape(qp, ps);
  for (int i = 0; i < qp->ndim; i++) dims[i] = (npy_intp)ps[i];
  PyObject *a = PyArray_SimpleNew(qp->ndim, dims, zp ? NPY_INT32 : NPY_FLOAT32);
  if (!a) return NULL;
  memcpy(PyArray_DATA((PyArrayObject *)a), zp ? (void *)qp->zero_point : (void *)qp->scale, (size_t)qp->count * 4);
  return a;
}

static PyObject *qparams_get(QParamsObject *o, void *which) {
  const cquant_qparams_t *qp = o->qp;
  static const char *gran[] = {"per-tensor", "per-channel", "per-group"};
  switch ((int)(intptr_t)which) {
    case 0: return qparams_param_array(o, 0);
    case 1: return qparams_param_array(o, 1);
    case 2: return PyUnicode_FromString(cquant_dtype_info(qp->dtype)->name);
    case 3: if (qp->granularity == CQUANT_PER_TENSOR) Py_RETURN_NONE; return PyLong_FromLong(qp->axis);
    case 4: if (qp->granularity != CQUANT_PER_GROUP) Py_RETURN_NONE; return PyLong_FromLongLong(qp->group_size);
    case 5: return PyUnicode_FromString(gran[qp->granularity]);
    case 6: {
      PyObject *t = PyTuple_New(qp->ndim);
      if (!t) return NULL;
      for (int i = 0; i < qp->ndim; i++) PyTuple_SET_ITEM(t, i, PyLong_FromLongLong(qp->shape[i]));
      return t;
    }
    case 7: return PyLong_FromLong(qp->qmin);
    case 8: return PyLong_FromLong(qp->qmax);
    case 9: return PyBool_FromLong((qp->flags & CQUANT_QF_SYMMETRIC) != 0);
    case 10: return PyBool_FromLong((qp->flags & CQUANT_QF_NARROW_RANGE) != 0);
    case 11: return PyUnicode_FromString(qp->rounding == CQUANT_ROUND_RECIP ? "recip" : "div");
  }
  Py_RETURN_NONE;
}

static PyGetSetDef qparams_getset[] = {
  {"scale", (getter)qparams_get, NULL, "scales (float32), shaped like the parameter tensor", (void *)0},
  {"zero_point", (getter)qparams_get, NULL, "zero-points (int32), shaped like scale", (void *)1},
  {"dtype", (getter)qparams_get, NULL, "quantized type name (int8, uint8, ...)", (void *)2},
  {"axis", (getter)qparams_get, NULL, "per-channel/per-group axis, None per-tensor", (void *)3},
  {"group_size", (getter)qparams_get, NULL, "per-group size, else None", (void *)4},
  {"granularity", (getter)qparams_get, NULL, "per-tensor, per-channel or per-group", (void *)5},
  {"shape", (getter)qparams_get, NULL, "shape of the tensor the parameters are for", (void *)6},
  {"qmin", (getter)qparams_get, NULL, "lowest integer in use", (void *)7},
  {"qmax", (getter)qparams_get, NULL, "highest integer in use", (void *)8},
  {"symmetric", (getter)qparams_get, NULL, "made symmetric", (void *)9},
  {"narrow_range", (getter)qparams_get, NULL, "signed range narrowed to [-qmax, qmax]", (void *)10},
  {"rounding", (getter)qparams_get, NULL, "div (r / s) or recip (r * (1/s))", (void *)11},
  {NULL}
};

static PyObject *qparams_to_json(QParamsObject *o, PyObject *unused) {
  char *text = NULL;
  int st = cquant_qparams_to_json(o->qp, o->layout, &text);
  if (st) return status_error(st);
  PyObject *s = PyUnicode_FromString(text);
  free(text);
  return s;
}

static PyObject *qparams_from_json(PyObject *cls, PyObject *arg) {
  const char *text = PyUnicode_AsUTF8(arg);
  if (!text) return NULL;
  cquant_qparams_t *qp;
  cquant_layout_t layout;
  int st = cquant_qparams_from_json(text, &qp, &layout);
  if (st) return status_error(st);
  QParamsObject *o = (QParamsObject *)qparams_wrap(qp);
  if (o) o->layout = layout;
  return (PyObject *)o;
}

static PyObject *qparams_repr(QParamsObject *o) {
  const cquant_qparams_t *qp = o->qp;
  if (qp->count == 1) {
    PyObject *s = PyFloat_FromDouble(qp->scale[0]);
    if (!s) return NULL;
    PyObject *r = PyUnicode_FromFormat("QParams(%s per-tensor, scale=%R, zero_point=%d)", cquant_dtype_info(qp->dtype)->name, s,
                                       qp->zero_point[0]);
    Py_DECREF(s);
    return r;
  }
  return PyUnicode_FromFormat("QParams(%s %s axis=%d, %lld scales)", cquant_dtype_info(qp->dtype)->name,
                              qp->granularity == CQUANT_PER_GROUP ? "per-group" : "per-channel", qp->axis, (long long)qp->count);
}

static PyMethodDef qparams_methods[] = {
  {"to_json", (PyCFunction)qparams_to_json, METH_NOARGS, "The qparams JSON document (docs/formats.md)."},
  {"from_json", (PyCFunction)qparams_from_json, METH_O | METH_CLASS, "QParams from a qparams JSON document."},
  {NULL}
};

static PyTypeObject QParamsType = {
  PyVarObject_HEAD_INIT(NULL, 0)
  .tp_name = "cquant.QParams",
  .tp_basicsize = sizeof(QParamsObject),
  .tp_dealloc = (destructor)qparams_dealloc,
  .tp_repr = (reprfunc)qparams_repr,
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_doc = "Quantization parameters for r = s (q - z) (made by quantize, Observer.qparams or from_json).",
  .tp_methods = qparams_methods,
  .tp_getset = qparams_getset,
};

/* ---- quantize / dequantize / fake_quantize ----------------------------------------------------- */

typedef struct {
  const char *dtype;
  PyObject *symmetric, *axis, *group_size, *scale, *zero_point, *qp;
  int narrow, short_group;
  const char *rounding;
} qopts_t;

static int opt_int(PyObject *o, const char *name, long long *v) {
  *v = PyLong_AsLongLong(o);
  if (*v == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "%s must be an integer", name);
    return -1;
  }
  return 0;
}

/* The parameters for x from the options, as cmd_quantize.c's make_qparams builds them. */
static cquant_qparams_t *make_qparams(const qopts_t *o, PyArrayObject *x) {
  int st, ndim = PyArray_NDIM(x);
  int64_t shape[CQUANT_MAX_DIMS];
  shape_of(x, shape);
  cquant_qparams_t *qp = NULL;
  if (o->qp && o->qp != Py_None) { /* given parameters (--load-qparams) */
    if (!PyObject_TypeCheck(o->qp, &QParamsType)) { PyErr_SetString(PyExc_TypeError, "qp must be a cquant.QParams"); return NULL; }
    if (o->scale != Py_None || o->axis != Py_None || o->group_size != Py_None) {
      PyErr_SetString(PyExc_ValueError, "qp already fixes the scales and layout; drop scale/axis/group_size");
      return NULL;
    }
    if ((st = cquant_qparams_rebind(((QParamsObject *)o->qp)->qp, ndim, shape, &qp))) { status_error(st); return NULL; }
    return qp;
  }
  cquant_dtype_t dt;
  if ((st = cquant_dtype_from_name(o->dtype, &dt))) { status_error(st); return NULL; }
  const cquant_dtype_info_t *info = cquant_dtype_info(dt);
  if (!(dt >= CQUANT_DT_S8 && dt <= CQUANT_DT_S16) && dt != CQUANT_DT_F8E4M3 && dt != CQUANT_DT_F8E5M2) {
    PyErr_Format(PyExc_ValueError, "dtype %s is not a quantization target (int8, uint8, int4, uint4, int2, uint2, int16, fp8e4m3, fp8e5m2)", o->dtype);
    return NULL;
  }
  int sym = info->is_signed;
  if (o->symmetric != Py_None && (sym = PyObject_IsTrue(o->symmetric)) < 0) return NULL;
  cquant_round_t rounding;
  if (!strcmp(o->rounding, "div")) rounding = CQUANT_ROUND_DIV;
  else if (!strcmp(o->rounding, "recip")) rounding = CQUANT_ROUND_RECIP;
  else { PyErr_Format(PyExc_ValueError, "rounding must be 'div' or 'recip', not '%s'", o->rounding); return NULL; }
  if (o->narrow && !info->is_signed) { PyErr_SetString(PyExc_ValueError, "narrow_range applies to signed types only"); return NULL; }
  cquant_granularity_t gran = CQUANT_PER_TENSOR;
  long long axis = 0, group = 0;
  if (o->group_size != Py_None) {
    if (o->axis == Py_None) { PyErr_SetString(PyExc_ValueError, "group_size needs an axis"); return NULL; }
    if (opt_int(o->group_size, "group_size", &group)) return NULL;
    if (group < 1) { PyErr_Format(PyExc_ValueError, "group_size must be >= 1, got %lld", group); return NULL; }
    gran = CQUANT_PER_GROUP;
  }
  if (o->axis != Py_None) {
    if (opt_int(o->axis, "axis", &axis)) return NULL;
    if (axis < 0) axis += ndim;
    if (axis < 0 || axis >= ndim) { PyErr_Format(PyExc_ValueError, "axis out of range for a %d-d array", ndim); return NULL; }
    if (gran == CQUANT_PER_TENSOR) gran = CQUANT_PER_CHANNEL;
  }
  if (o->scale != Py_None && gran != CQUANT_PER_TENSOR) {
    PyErr_SetString(PyExc_ValueError, "scale gives one per-tensor scale; use qp= for per-channel or per-group scales");
    return NULL;
  }
  if (o->zero_point != Py_None && o->scale == Py_None) { PyErr_SetString(PyExc_ValueError, "zero_point needs scale"); return NULL; }
  unsigned flags = (sym ? CQUANT_QF_SYMMETRIC : 0) | (o->narrow ? CQUANT_QF_NARROW_RANGE : 0) | (o->short_group ? CQUANT_QF_ALLOW_SHORT_GROUP : 0);
  if ((st = cquant_qparams_create(dt, gran, (int)axis, group, flags, ndim, shape, &qp))) { status_error(st); return NULL; }
  qp->rounding = rounding;
  if (o->scale != Py_None) {
    double s = PyFloat_AsDouble(o->scale);
    long long zp = 0;
    if (s == -1.0 && PyErr_Occurred()) goto fail;
    if (o->zero_point != Py_None && opt_int(o->zero_point, "zero_point", &zp)) goto fail;
    if (!(s > 0) || !((float)s > 0.0f) || !((float)s < INFINITY)) { PyErr_SetString(PyExc_ValueError, "scale must be finite and greater than 0"); goto fail; }
    if (info->is_float && zp) { PyErr_SetString(PyExc_ValueError, "zero_point: FP8 quantization has no zero-point"); goto fail; }
    if (!info->is_float && (zp < qp->qmin || zp > qp->qmax)) {
      PyErr_Format(PyExc_ValueError, "zero_point %lld outside the %s range [%d, %d]", zp, info->name, qp->qmin, qp->qmax);
      goto fail;
    }
    qp->scale[0] = (float)s;
    qp->zero_point[0] = (int32_t)zp;
    return qp;
  }
  if ((st = cquant_qparams_minmax(qp, PyArray_DATA(x)))) { status_error(st); goto fail; }
  return qp;
fail:
  cquant_qparams_destroy(qp);
  return NULL;
}

/* The numpy type holding unpacked quantized values of dt (as cmd_quantize.c's storage_type). */
static int storage_npy(cquant_dtype_t dt) {
  switch (dt) {
    case CQUANT_DT_S8: case CQUANT_DT_S4: case CQUANT_DT_S2: return NPY_INT8;
    case CQUANT_DT_S16: return NPY_INT16;
    case CQUANT_DT_S32: return NPY_INT32;
    default: return NPY_UINT8;
  }
}

#define QOPT_KW "dtype", "symmetric", "axis", "group_size", "narrow_range", "rounding", "scale", "zero_point", "qp", "short_last_group"

static int parse_qopts(PyObject *args, PyObject *kw, PyObject **x, qopts_t *o) {
  static char *kwlist[] = {"x", QOPT_KW, NULL};
  memset(o, 0, sizeof *o);
  o->dtype = "int8";
  o->rounding = "div";
  o->symmetric = o->axis = o->group_size = o->scale = o->zero_point = o->qp = Py_None;
  return PyArg_ParseTupleAndKeywords(args, kw, "O|$sOOOpsOOOp", kwlist, x, &o->dtype, &o->symmetric, &o->axis, &o->group_size,
                                     &o->narrow, &o->rounding, &o->scale, &o->zero_point, &o->qp, &o->short_group) ? 0 : -1;
}

static PyObject *py_quantize(PyObject *self, PyObject *args, PyObject *kw) {
  PyObject *xo;
  qopts_t o;
  if (parse_qopts(args, kw, &xo, &o)) return NULL;
  PyArrayObject *x = as_f32(xo, "quantize: x");
  if (!x) return NULL;
  cquant_qparams_t *qp = make_qparams(&o, x);
  if (!qp) { Py_DECREF(x); return NULL; }
  npy_intp dims[CQUANT_MAX_DIMS];
  for (int i = 0; i < PyArray_NDIM(x); i++) dims[i] = PyArray_DIM(x, i);
  PyObject *q = PyArray_SimpleNew(PyArray_NDIM(x), dims, storage_npy(qp->dtype));
  if (!q) { Py_DECREF(x); cquant_qparams_destroy(qp); return NULL; }
  int st = cquant_quantize(PyArray_DATA(x), qp, CQUANT_LAYOUT_UNPACKED, PyArray_DATA((PyArrayObject *)q));
  Py_DECREF(x);
  if (st) { Py_DECREF(q); cquant_qparams_destroy(qp); return status_error(st); }
  PyObject *pq = qparams_wrap(qp);
  if (!pq) { Py_DECREF(q); return NULL; }
  return Py_BuildValue("(NN)", q, pq);
}

static PyObject *py_fake_quantize(PyObject *self, PyObject *args, PyObject *kw) {
  PyObject *xo;
  qopts_t o;
  if (parse_qopts(args, kw, &xo, &o)) return NULL;
  PyArrayObject *x = as_f32(xo, "fake_quantize: x");
  if (!x) return NULL;
  cquant_qparams_t *qp = make_qparams(&o, x);
  if (!qp) { Py_DECREF(x); return NULL; }
  PyObject *y = PyArray_NewLikeArray(x, NPY_CORDER, NULL, 0);
  int st = y ? cquant_fake_quantize(PyArray_DATA(x), qp, PyArray_DATA((PyArrayObject *)y)) : 0;
  Py_DECREF(x);
  cquant_qparams_destroy(qp);
  if (st) { Py_DECREF(y); return status_error(st); }
  return y;
}

static PyObject *py_dequantize(PyObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"q", "qp", NULL};
  PyObject *qo, *qpo;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OO!", kwlist, &qo, &QParamsType, &qpo)) return NULL;
  const cquant_qparams_t *qp = ((QParamsObject *)qpo)->qp;
  if (((QParamsObject *)qpo)->layout != CQUANT_LAYOUT_UNPACKED) {
    PyErr_SetString(PyExc_ValueError, "dequantize: these parameters describe packed data; only unpacked arrays are read");
    return NULL;
  }
  if (qo == Py_None) { PyErr_SetString(PyExc_TypeError, "dequantize: q must be an integer array, not None"); return NULL; }
  PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(qo);
  if (!a) return NULL;
  int want = storage_npy(qp->dtype);
  if (PyArray_TYPE(a) != want) {
    PyErr_Format(PyExc_TypeError, "dequantize: %s values are held in %s, got dtype %s", cquant_dtype_info(qp->dtype)->name,
                 want == NPY_INT8 ? "int8" : want == NPY_INT16 ? "int16" : want == NPY_INT32 ? "int32" : "uint8",
                 PyArray_DESCR(a)->typeobj->tp_name);
    Py_DECREF(a);
    return NULL;
  }
  int same = PyArray_NDIM(a) == qp->ndim;
  for (int i = 0; same && i < qp->ndim; i++) same = PyArray_DIM(a, i) == qp->shape[i];
  if (!same) {
    PyErr_SetString(PyExc_ValueError, "dequantize: q has another shape than the parameters describe");
    Py_DECREF(a);
    return NULL;
  }
  PyArrayObject *c = (PyArrayObject *)PyArray_FROMANY((PyObject *)a, want, 0, CQUANT_MAX_DIMS, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
  Py_DECREF(a);
  if (!c) return NULL;
  npy_intp dims[CQUANT_MAX_DIMS];
  for (int i = 0; i < qp->ndim; i++) dims[i] = (npy_intp)qp->shape[i];
  PyObject *y = PyArray_SimpleNew(qp->ndim, dims, NPY_FLOAT32);
  int st = y ? cquant_dequantize(PyArray_DATA(c), qp, CQUANT_LAYOUT_UNPACKED, PyArray_DATA((PyArrayObject *)y)) : 0;
  Py_DECREF(c);
  if (st) { Py_DECREF(y); return status_error(st); }
  return y;
}

static PyObject *report_dict(const cquant_error_report_t *r) {
  return Py_BuildValue("{s:L,s:d,s:d,s:d,s:L,s:d,s:d,s:d,s:O}", "n", (long long)r->n, "mse", r->mse, "sqnr_db", r->sqnr_db,
                       "max_abs", r->max_abs, "n_clipped", (long long)r->n_clipped, "clipped_share", r->clipped_share,
                       "clip_mse", r->clip_mse, "round_mse", r->round_mse, "has_split", r->has_split ? Py_True : Py_False);
}

static PyObject *py_error_report(PyObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"ref", "test", "qp", NULL};
  PyObject *ro, *to, *qpo = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O", kwlist, &ro, &to, &qpo)) return NULL;
  if (qpo != Py_None && !PyObject_TypeCheck(qpo, &QParamsType)) { PyErr_SetString(PyExc_TypeError, "qp must be a cquant.QParams or None"); return NULL; }
  PyArrayObject *r = as_f32(ro, "error_report: ref"), *t = r ? as_f32(to, "error_report: test") : NULL;
  if (!t) { Py_XDECREF(r); return NULL; }
  PyObject *res = NULL;
  if (PyArray_SIZE(r) != PyArray_SIZE(t)) {
    PyErr_Format(PyExc_ValueError, "error_report: ref has %zd elements, test %zd", (Py_ssize_t)PyArray_SIZE(r), (Py_ssize_t)PyArray_SIZE(t));
  } else {
    cquant_qparams_t *qp = NULL;
    int st = 0;
    int64_t shape[CQUANT_MAX_DIMS];
    shape_of(r, shape);
    if (qpo != Py_None) st = cquant_qparams_rebind(((QParamsObject *)qpo)->qp, PyArray_NDIM(r), shape, &qp);
    cquant_error_report_t rep;
    if (!st) st = cquant_error_report(PyArray_DATA(r), PyArray_DATA(t), (size_t)PyArray_SIZE(r), qp, &rep);
    cquant_qparams_destroy(qp);
    res = st ? status_error(st) : report_dict(&rep);
  }
  Py_DECREF(r);
  Py_DECREF(t);
  return res;
}

/* ---- Observer ---------------------------------------------------------------------------------- */

typedef struct {
  PyObject_HEAD
  cquant_observer_t *obs;
  cquant_calib_config_t cfg;
  int ndim;                       /* of the first batch, -1 before it */
  int64_t shape[CQUANT_MAX_DIMS];
} ObserverObject;

static PyTypeObject ObserverType;

static int observer_init(ObserverObject *o, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"method", "dtype", "symmetric", "axis", "percentile", "bins", "narrow_range", "ema_constant", NULL};
  const char *method = "minmax", *dtype = "int8";
  PyObject *sym = Py_None, *axis = Py_None, *pct = Py_None, *bins = Py_None, *ema = Py_None;
  int narrow = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|s$sOOOOpO", kwlist, &method, &dtype, &sym, &axis, &pct, &bins, &narrow, &ema)) return -1;
  cquant_observer_destroy(o->obs);
  o->obs = NULL;
  o->ndim = -1;
  cquant_calib_method_t m;
  int st;
  if ((st = cquant_calib_method_from_name(method, &m))) { status_error(st); return -1; }
  cquant_calib_config_default(&o->cfg, m);
  if ((st = cquant_dtype_from_name(dtype, &o->cfg.dtype))) { status_error(st); return -1; }
  const cquant_dtype_info_t *info = cquant_dtype_info(o->cfg.dtype);
  if (!(o->cfg.dtype >= CQUANT_DT_S8 && o->cfg.dtype <= CQUANT_DT_S16)) {
    PyErr_Format(PyExc_ValueError, "dtype %s: calibration targets int8, uint8, int4, uint4, int2, uint2 or int16", dtype);
    return -1;
  }
  int s = info->is_signed; /* the dtype's default, as cquant calibrate */
  if (sym != Py_None && (s = PyObject_IsTrue(sym)) < 0) return -1;
  o->cfg.flags = (s ? CQUANT_QF_SYMMETRIC : 0) | (narrow ? CQUANT_QF_NARROW_RANGE : 0);
  long long v;
  if (axis != Py_None) {
    if (opt_int(axis, "axis", &v)) return -1;
    if (v < 0 || v >= CQUANT_MAX_DIMS) { PyErr_Format(PyExc_ValueError, "axis %lld: give the channel axis as 0..%d", v, CQUANT_MAX_DIMS - 1); return -1; }
    o->cfg.axis = (int)v;
  }
  if (bins != Py_None) { if (opt_int(bins, "bins", &v)) return -1; o->cfg.bins = (int)v; }
  if (pct != Py_None) { o->cfg.percentile = PyFloat_AsDouble(pct); if (PyErr_Occurred()) return -1; }
  if (ema != Py_None) { o->cfg.ema_constant = PyFloat_AsDouble(ema); if (PyErr_Occurred()) return -1; }
  if ((st = cquant_observer_create(&o->cfg, &o->obs))) { status_error(st); return -1; }
  return 0;
}

static void observer_dealloc(ObserverObject *o) {
  cquant_observer_destroy(o->obs);
  Py_TYPE(o)->tp_free((PyObject *)o);
}

static int observer_ready(ObserverObject *o) {
  if (!o->obs) { PyErr_SetString(PyExc_RuntimeError, "Observer was not initialised"); return -1; }
  return 0;
}

static PyObject *observer_update(ObserverObject *o, PyObject *batch) {
  if (observer_ready(o)) return NULL;
  PyArrayObject *x = as_f32(batch, "Observer.update: batch");
  if (!x) return NULL;
  int64_t shape[CQUANT_MAX_DIMS];
  shape_of(x, shape);
  int st = cquant_observer_update(o->obs, PyArray_DATA(x), PyArray_NDIM(x), shape);
  if (!st && o->ndim < 0) { o->ndim = PyArray_NDIM(x); memcpy(o->shape, shape, sizeof shape); }
  Py_DECREF(x);
  if (st) return status_error(st);
  Py_RETURN_NONE;
}

static PyObject *observer_merge(ObserverObject *o, PyObject *other) {
  if (observer_ready(o)) return NULL;
  if (!PyObject_TypeCheck(other, &ObserverType) || observer_ready((ObserverObject *)other)) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "Observer.merge: another cquant.Observer is needed");
    return NULL;
  }
  ObserverObject *src = (ObserverObject *)other;
  int st = cquant_observer_merge(o->obs, src->obs);
  if (st) return status_error(st);
  if (o->ndim < 0 && src->ndim >= 0) { o->ndim = src->ndim; memcpy(o->shape, src->shape, sizeof o->shape); }
  Py_RETURN_NONE;
}

static PyObject *observer_qparams(ObserverObject *o, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"shape", NULL};
  PyObject *so = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &so) || observer_ready(o)) return NULL;
  int ndim = o->ndim;
  int64_t shape[CQUANT_MAX_DIMS];
  if (so == Py_None) {
    if (ndim < 0) { PyErr_SetString(PyExc_ValueError, "Observer.qparams: nothing observed yet"); return NULL; }
    memcpy(shape, o->shape, sizeof shape);
  } else {
    PyObject *seq = PySequence_Fast(so, "Observer.qparams: shape must be a sequence of integers");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > CQUANT_MAX_DIMS) { Py_DECREF(seq); PyErr_SetString(PyExc_ValueError, "Observer.qparams: too many dimensions"); return NULL; }
    ndim = (int)n;
    for (Py_ssize_t i = 0; i < n; i++) {
      long long v;
      if (opt_int(PySequence_Fast_GET_ITEM(seq, i), "shape entries", &v)) { Py_DECREF(seq); return NULL; }
      shape[i] = v;
    }
    Py_DECREF(seq);
  }
  cquant_qparams_t *qp;
  int st = cquant_observer_qparams(o->obs, ndim, shape, &qp);
  if (st) return status_error(st);
  return qparams_wrap(qp);
}

static PyObject *observer_range(ObserverObject *o, PyObject *unused) {
  if (observer_ready(o)) return NULL;
  cquant_observer_stats_t ss;
  cquant_observer_stats(o->obs, &ss);
  npy_intp n = ss.channels > 0 ? (npy_intp)ss.channels : 1;
  PyObject *lo = PyArray_SimpleNew(1, &n, NPY_FLOAT32), *hi = PyArray_SimpleNew(1, &n, NPY_FLOAT32);
  if (!lo || !hi) { Py_XDECREF(lo); Py_XDECREF(hi); return NULL; }
  int st = cquant_observer_ranges(o->obs, PyArray_DATA((PyArrayObject *)lo), PyArray_DATA((PyArrayObject *)hi), n);
  if (st) { Py_DECREF(lo); Py_DECREF(hi); return status_error(st); }
  if (o->cfg.axis < 0) { /* per-tensor: two floats */
    PyObject *r = Py_BuildValue("(dd)", (double)((float *)PyArray_DATA((PyArrayObject *)lo))[0],
                                (double)((float *)PyArray_DATA((PyArrayObject *)hi))[0]);
    Py_DECREF(lo);
    Py_DECREF(hi);
    return r;
  }
  return Py_BuildValue("(NN)", lo, hi);
}

static PyObject *observer_stats(ObserverObject *o, PyObject *unused) {
  if (observer_ready(o)) return NULL;
  cquant_observer_stats_t s;
  cquant_observer_stats(o->obs, &s);
  return Py_BuildValue("{s:L,s:L,s:L,s:L,s:d,s:d,s:d,s:L}", "batches", (long long)s.batches, "seen", (long long)s.seen,
                       "nonfinite", (long long)s.nonfinite, "channels", (long long)s.channels, "data_min", (double)s.data_min,
                       "data_max", (double)s.data_max, "bin_width", s.bin_width, "bins", (long long)s.bins);
}

static PyMethodDef observer_methods[] = {
  {"update", (PyCFunction)observer_update, METH_O, "Observes one float32 batch (NaN/Inf are skipped and counted)."},
  {"merge", (PyCFunction)observer_merge, METH_O, "Adds another observer's observations (same configuration)."},
  {"qparams", (PyCFunction)(void (*)(void))observer_qparams, METH_VARARGS | METH_KEYWORDS,
   "QParams for a tensor of `shape` (default: the first batch's shape)."},
  {"range", (PyCFunction)observer_range, METH_NOARGS, "The chosen range: (min, max) floats, or arrays per channel."},
  {"stats", (PyCFunction)observer_stats, METH_NOARGS, "What was observed (cquant_observer_stats_t) as a dict."},
  {NULL}
};

static PyTypeObject ObserverType = {
  PyVarObject_HEAD_INIT(NULL, 0)
  .tp_name = "cquant.Observer",
  .tp_basicsize = sizeof(ObserverObject),
  .tp_dealloc = (destructor)observer_dealloc,
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_doc = "Observer(method='minmax', *, dtype='int8', symmetric=None, axis=None, percentile=None, bins=None,\n"
            "narrow_range=False, ema_constant=None): a calibration observer (cquant/calib.h). symmetric=None\n"
            "takes the dtype's default (signed: symmetric), as `cquant calibrate` does.",
  .tp_methods = observer_methods,
  .tp_init = (initproc)observer_init,
  .tp_new = PyType_GenericNew,
};

/* ---- run --------------------------------------------------------------------------------------- */

static PyObject *py_run(PyObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"model", "inputs", "exec", NULL};
  const char *exec = "float";
  PyObject *inputs, *path;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O!|$s", kwlist, PyUnicode_FSConverter, &path, &PyDict_Type, &inputs, &exec)) return NULL;
  int integer = 0;
  if (!strcmp(exec, "int")) integer = 1;
  else if (strcmp(exec, "float")) {
    Py_DECREF(path);
    PyErr_Format(PyExc_ValueError, "exec must be 'float' or 'int', not '%s'", exec);
    return NULL;
  }
  cquant_onnx_model_t *m = NULL, *mi = NULL;
  int st = cquant_onnx_load(PyBytes_AS_STRING(path), &m);
  Py_DECREF(path);
  if (st) return status_error(st);
  if (integer) {
    if ((st = cquant_onnx_integerize(m, &mi, NULL))) { cquant_onnx_free(m); return status_error(st); }
    cquant_onnx_free(m);
    m = mi;
  }
  PyObject *res = NULL;
  Py_ssize_t n = PyDict_Size(inputs), pos = 0, k = 0;
  int nout = cquant_onnx_num_outputs(m);
  const char **names = calloc((size_t)n + 1, sizeof *names);
  cquant_array_t *in = calloc((size_t)n + 1, sizeof *in), *out = calloc((size_t)nout + 1, sizeof *out);
  if (!names || !in || !out) { PyErr_NoMemory(); goto done; }
  PyObject *key, *val;
  while (PyDict_Next(inputs, &pos, &key, &val)) {
    if (!(names[k] = PyUnicode_AsUTF8(key))) goto done;
    if (copy_to_array(val, -1, names[k], &in[k])) goto done;
    k++;
  }
  if ((st = cquant_onnx_run(m, (int)n, names, in, out))) { status_error(st); goto done; }
  if (!(res = PyDict_New())) goto done;
  for (int i = 0; i < nout; i++) {
    PyObject *a = adopt_array(&out[i]);
    if (!a || PyDict_SetItemString(res, cquant_onnx_output_name(m, i), a) < 0) {
      Py_XDECREF(a);
      Py_CLEAR(res);
      for (int j = i + 1; j < nout; j++) cquant_array_free(&out[j]);
      break;
    }
    Py_DECREF(a);
  }
done:
  for (Py_ssize_t i = 0; i < k; i++) cquant_array_free(&in[i]);
  free(in);
  free(out);
  free(names);
  cquant_onnx_free(m);
  return res;
}

/* ---- ptq --------------------------------------------------------------------------------------- */

/* A Python iterable as a data source: numpy batches, (batch, labels) tuples or {input: batch}. */
typedef struct {
  PyObject *iterable, *iter;
  int rewindable, started;
  const char *input;              /* the model's input name (dict items) */
  cquant_array_t x, labels;
  int has_labels;
  PyObject *exc_type, *exc_value, *exc_tb; /* the first Python exception raised inside a callback */
  char name[64];
} pysource_t;

static int pysource_fail(pysource_t *s, int st) {
  if (PyErr_Occurred()) {
    if (!s->exc_type) PyErr_Fetch(&s->exc_type, &s->exc_value, &s->exc_tb);
    else PyErr_Clear();
  }
  return cquant_set_error(st, "a Python exception was raised while reading the data");
}

static int pysource_next(void *user, const cquant_array_t **x, const cquant_array_t **labels) {
  pysource_t *s = user;
  cquant_array_free(&s->x);
  cquant_array_free(&s->labels);
  s->started = 1;
  if (!s->iter && !(s->iter = PyObject_GetIter(s->iterable))) return pysource_fail(s, CQUANT_STATUS_INVALID_ARGUMENT);
  PyObject *item = PyIter_Next(s->iter);
  if (!item) return PyErr_Occurred() ? pysource_fail(s, CQUANT_STATUS_INVALID_ARGUMENT) : 0;
  PyObject *xo = item, *lo = NULL;
  if (PyTuple_Check(item)) {
    if (PyTuple_GET_SIZE(item) != 2) {
      Py_DECREF(item);
      PyErr_SetString(PyExc_ValueError, "a data tuple must be (batch, labels)");
      return pysource_fail(s, CQUANT_STATUS_INVALID_ARGUMENT);
    }
    xo = PyTuple_GET_ITEM(item, 0);
    lo = PyTuple_GET_ITEM(item, 1);
  } else if (PyDict_Check(item)) {
    if (PyDict_Size(item) != 1 || !(xo = PyDict_GetItemString(item, s->input))) {
      Py_DECREF(item);
      PyErr_Format(PyExc_ValueError, "a data dict must hold exactly the model input '%s'", s->input);
      return pysource_fail(s, CQUANT_STATUS_INVALID_ARGUMENT);
    }
  }
  int r = copy_to_array(xo, NPY_FLOAT32, "data batch", &s->x);
  if (!r && lo && lo != Py_None) r = copy_to_array(lo, NPY_INT64, "data labels", &s->labels);
  Py_DECREF(item);
  if (r) return pysource_fail(s, CQUANT_STATUS_INVALID_ARGUMENT);
  *x = &s->x;
  *labels = s->labels.data ? &s->labels : NULL;
  return 1;
}

static int pysource_rewind(void *user) {
  pysource_t *s = user;
  if (!s->started) return 0;
  if (!s->rewindable) return cquant_set_error(CQUANT_STATUS_UNSUPPORTED, "an iterator can be read once; pass a list (or another re-iterable) of batches");
  Py_CLEAR(s->iter);
  return 0;
}

static void pysource_clear(pysource_t *s) {
  Py_CLEAR(s->iter);
  cquant_array_free(&s->x);
  cquant_array_free(&s->labels);
  Py_XDECREF(s->exc_type);
  Py_XDECREF(s->exc_value);
  Py_XDECREF(s->exc_tb);
  s->exc_type = s->exc_value = s->exc_tb = NULL;
}

/* One data option from a Python value, as the CLI spells it (cquant_data_options_set): None is
 * skipped; a str or number as its text; a pair (H, W) as "HxW" (resize, crop); three numbers as
 * "a,b,c" (mean, std). 0 or -1 with an exception. */
static int data_option(cquant_data_options_t *o, const char *name, PyObject *v) {
  if (!v || v == Py_None) return 0;
  char buf[128];
  if (PyUnicode_Check(v)) snprintf(buf, sizeof buf, "%s", PyUnicode_AsUTF8(v));
  else if (PyNumber_Check(v)) {
    const double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) return -1;
    snprintf(buf, sizeof buf, "%.9g", d);
  } else {
    PyObject *seq = PySequence_Check(v) ? PySequence_Tuple(v) : NULL;
    const Py_ssize_t n = seq ? PyTuple_GET_SIZE(seq) : 0;
    if (!seq || n < 1 || n > 3) {
      Py_XDECREF(seq);
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "%s: a string, a number or a sequence of 2 or 3 numbers", name);
      return -1;
    }
    size_t k = 0;
    for (Py_ssize_t i = 0; i < n && k < sizeof buf; i++) {
      const double d = PyFloat_AsDouble(PyTuple_GET_ITEM(seq, i));
      if (d == -1.0 && PyErr_Occurred()) { Py_DECREF(seq); return -1; }
      k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%.9g", i ? (n == 2 ? "x" : ",") : "", d);
    }
    Py_DECREF(seq);
  }
  int st = cquant_data_options_set(o, name, buf);
  if (st) { status_error(st); return -1; }
  return 0;
}

/* Opens a source from a spec string, a dict {input name: spec} (one source per model input, read in
 * lockstep, as the CLI's NAME=DATA) or a Python iterable, with the data options o. 0 or -1 with an
 * exception. */
static int open_source(PyObject *obj, const char *what, const cquant_onnx_model_t *m, const cquant_data_options_t *o, pysource_t *s,
                       cquant_data_t **out) {
  *out = NULL;
  if (PyUnicode_Check(obj) || PyBytes_Check(obj) || PyObject_HasAttrString(obj, "__fspath__")) {
    PyObject *b;
    if (!PyUnicode_FSConverter(obj, &b)) return -1;
    int st = cquant_data_open_ex(PyBytes_AS_STRING(b), o, out);
    Py_DECREF(b);
    if (st) { status_error(st); return -1; }
    return 0;
  }
  if (PyDict_Check(obj)) { /* {name: spec}: "NAME=SPEC" for each */
    const Py_ssize_t n = PyDict_Size(obj);
    if (n < 1) { PyErr_Format(PyExc_ValueError, "%s: the dict names no input", what); return -1; }
    PyObject *items = PyDict_Items(obj);
    PyObject **keep = items ? calloc((size_t)n, sizeof *keep) : NULL;
    const char **specs = keep ? calloc((size_t)n, sizeof *specs) : NULL;
    int r = items && keep && specs ? 0 : -1;
    if (r && !PyErr_Occurred()) PyErr_NoMemory();
    for (Py_ssize_t i = 0; !r && i < n; i++) {
      PyObject *kv = PyList_GET_ITEM(items, i), *k = PyTuple_GET_ITEM(kv, 0), *v = PyTuple_GET_ITEM(kv, 1), *vb = NULL;
      if (!PyUnicode_Check(k)) { PyErr_Format(PyExc_TypeError, "%s: input names must be strings", what); r = -1; break; }
      if (!PyUnicode_FSConverter(v, &vb)) { r = -1; break; }
      keep[i] = PyBytes_FromFormat("%s=%s", PyUnicode_AsUTF8(k), PyBytes_AS_STRING(vb));
      Py_DECREF(vb);
      if (!keep[i]) { r = -1; break; }
      specs[i] = PyBytes_AS_STRING(keep[i]);
    }
    if (!r) {
      int st = cquant_data_open_inputs(specs, (int)n, o, out);
      if (st) { status_error(st); r = -1; }
    }
    for (Py_ssize_t i = 0; keep && i < n; i++) Py_XDECREF(keep[i]);
    free(keep);
    free((void *)specs);
    Py_XDECREF(items);
    return r;
  }
  if (PyArray_Check(obj)) { PyErr_Format(PyExc_TypeError, "%s: give a list of batches (or a data spec string), not one array", what); return -1; }
  PyObject *it = PyObject_GetIter(obj);
  if (!it) { PyErr_Format(PyExc_TypeError, "%s: a data spec string, a dict of them or an iterable of batches is needed", what); return -1; }
  s->iterable = obj;
  s->rewindable = it != obj;
  s->iter = it;
  s->input = cquant_onnx_num_inputs(m) > 0 ? cquant_onnx_input_name(m, 0) : "";
  snprintf(s->name, sizeof s->name, "%s (Python iterable)", what);
  cquant_data_callbacks_t cb = {s, pysource_next, pysource_rewind, s->name};
  int st = cquant_data_from_callbacks(&cb, out);
  if (st) { status_error(st); return -1; }
  return 0;
}

/* The data options of ptq and qat: batch, the model's normalization unless mean/std are given, and
 * the image options. 0 or -1 with an exception. */
static int data_options(const cquant_onnx_model_t *m, long long batch, PyObject *mean_o, PyObject *std_o, PyObject *const img[4],
                        cquant_data_options_t *o) {
  static const char *const names[4] = {"resize", "crop", "channel-order", "layout"};
  cquant_data_options_default(o);
  if (batch < 1) { PyErr_SetString(PyExc_ValueError, "batch must be a positive integer"); return -1; }
  o->batch = batch;
  double mean = 0, std = 1;
  int st = cquant_model_normalization(m, &mean, &std);
  if (st) { status_error(st); return -1; }
  for (int c = 0; c < 3; c++) o->mean[c] = (float)mean, o->std[c] = (float)std;
  if (data_option(o, "mean", mean_o) || data_option(o, "std", std_o)) return -1;
  for (int k = 0; k < 4; k++)
    if (img && data_option(o, names[k], img[k])) return -1;
  return 0;
}

static int parse_methods(PyObject *am, cquant_ptq_options_t *o) {
  o->methods = 0, o->n_order = 0;
  if (PyUnicode_Check(am) && !strcmp(PyUnicode_AsUTF8(am), "all")) {
    for (int m = 0; m < CQUANT_CALIB_COUNT; m++) o->order[o->n_order++] = (cquant_calib_method_t)m, o->methods |= 1u << m;
    return 0;
  }
  PyObject *seq = PyUnicode_Check(am) ? PyTuple_Pack(1, am) : PySequence_Tuple(am);
  if (!seq) { PyErr_SetString(PyExc_TypeError, "act_method: a method name, a list of names or 'all'"); return -1; }
  Py_ssize_t n = PyTuple_GET_SIZE(seq);
  int r = 0;
  if (n < 1 || n > CQUANT_CALIB_COUNT) { PyErr_Format(PyExc_ValueError, "act_method: 1 to %d methods, each once", CQUANT_CALIB_COUNT); r = -1; }
  for (Py_ssize_t k = 0; !r && k < n; k++) {
    const char *name = PyUnicode_Check(PyTuple_GET_ITEM(seq, k)) ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(seq, k)) : NULL;
    cquant_calib_method_t m;
    int st;
    if (!name) { PyErr_SetString(PyExc_TypeError, "act_method: names must be strings"); r = -1; }
    else if ((st = cquant_calib_method_from_name(name, &m))) { status_error(st); r = -1; }
    else if (o->methods & (1u << m)) { PyErr_Format(PyExc_ValueError, "act_method: '%s' is given twice", name); r = -1; }
    else o->order[o->n_order++] = m, o->methods |= 1u << m;
  }
  Py_DECREF(seq);
  return r;
}

/* Attaches the .npy of class ids at path_o (None: nothing) to d; -1 with the Python error set. */
static int attach_labels(cquant_data_t *d, PyObject *path_o) {
  if (path_o == Py_None) return 0;
  PyObject *b;
  if (!PyUnicode_FSConverter(path_o, &b)) return -1;
  const int st = cquant_data_attach_labels(d, PyBytes_AS_STRING(b));
  Py_DECREF(b);
  if (st) { status_error(st); return -1; }
  return 0;
}

/* eval(model, data, *, labels=None, exec='float', batch=100, mean=None, std=None, resize=None, crop=None,
 * channel_order=None, layout=None) -> {'top1', 'correct', 'n', 'us_per_sample', 'predictions'}: as `cquant eval`,
 * one execution (exec='int': the integer rewrite). */
static PyObject *py_eval(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self;
  static char *kwlist[] = {"model", "data", "labels", "exec", "batch", "mean", "std", "resize", "crop", "channel_order", "layout", NULL};
  PyObject *path, *data_o, *labels_o = Py_None, *mean_o = Py_None, *std_o = Py_None;
  PyObject *img[4] = {Py_None, Py_None, Py_None, Py_None};
  const char *exec = "float";
  long long batch = 100;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O|$OsLOOOOOO", kwlist, PyUnicode_FSConverter, &path, &data_o, &labels_o, &exec, &batch, &mean_o,
                                   &std_o, &img[0], &img[1], &img[2], &img[3]))
    return NULL;
  PyObject *res = NULL;
  cquant_onnx_model_t *m = NULL, *im = NULL;
  cquant_data_t *d = NULL;
  pysource_t src;
  memset(&src, 0, sizeof src);
  int32_t *pred = NULL;
  int st, n_int;
  const int integer = !strcmp(exec, "int");
  if (!integer && strcmp(exec, "float")) { PyErr_Format(PyExc_ValueError, "exec must be 'float' or 'int', not '%s'", exec); goto done; }
  if ((st = cquant_onnx_load(PyBytes_AS_STRING(path), &m))) { status_error(st); goto done; }
  if (integer && (st = cquant_onnx_integerize(m, &im, &n_int))) { status_error(st); goto done; }
  cquant_data_options_t dopt;
  if (data_options(m, batch, mean_o, std_o, img, &dopt) || open_source(data_o, "data", m, &dopt, &src, &d) || attach_labels(d, labels_o)) goto done;
  if (!src.iter && cquant_onnx_num_inputs(m) > cquant_data_num_inputs(d)) { /* (an iterable may give dicts of every input) */
    PyErr_Format(PyExc_ValueError, "the model has %d inputs: give data as a dict {input name: spec}", cquant_onnx_num_inputs(m));
    goto done;
  }
  const int64_t n_all = cquant_data_size(d);
  if (n_all > 0 && !(pred = calloc((size_t)n_all, sizeof *pred))) { PyErr_NoMemory(); goto done; }
  cquant_eval_result_t r;
  if ((st = cquant_eval_top1(integer ? im : m, d, &r, pred))) {
    if (src.exc_type) PyErr_Restore(src.exc_type, src.exc_value, src.exc_tb), src.exc_type = src.exc_value = src.exc_tb = NULL;
    else status_error(st);
    goto done;
  }
  PyObject *pv = Py_None;
  Py_INCREF(pv);
  if (pred) { /* each sample's class, when the size is known (files, fashion-mnist) */
    npy_intp dim = (npy_intp)r.n;
    Py_DECREF(pv);
    if (!(pv = PyArray_SimpleNew(1, &dim, NPY_INT32))) goto done;
    memcpy(PyArray_DATA((PyArrayObject *)pv), pred, sizeof *pred * (size_t)r.n);
  }
  res = Py_BuildValue("{s:d,s:L,s:L,s:d,s:N}", "top1", r.top1, "correct", (long long)r.correct, "n", (long long)r.n, "us_per_sample",
                      r.us_per_sample, "predictions", pv);
done:
  free(pred);
  cquant_data_close(d);
  pysource_clear(&src);
  cquant_onnx_free(im);
  cquant_onnx_free(m);
  Py_DECREF(path);
  return res;
}

static PyObject *py_ptq(PyObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"model", "calib", "output", "weights", "weight_range", "act_method", "percentile", "symmetric_act",
                           "exclude", "format", "eval", "max_drop", "report", "plot", "mean", "std", "batch", "mode",
                           "smooth", "bias_correction", "cle", "quantize_act_matmul", "quantize_ops", "overrides",
                           "weight_granularity", "pack_int4", "act", "resize", "crop", "channel_order", "layout", "reduce_range",
                           "eval_labels", NULL};
  PyObject *eval_labels_o = Py_None;
  PyObject *model_o, *calib_o, *out_o, *wrange = Py_None, *am = NULL, *exclude = NULL, *eval_o = Py_None, *maxdrop_o = Py_None;
  PyObject *report_o = Py_None, *plot_o = Py_None, *mean_o = Py_None, *std_o = Py_None, *smooth_o = Py_None;
  const char *weights = "int8", *format = "qdq", *mode = "static", *qops = NULL;
  double percentile = 99.99;
  int symact = 0, biascorr = 0, cle = 0, act_mm = 1;
  PyObject *ovr_o = Py_None, *ovr_b = NULL;
  cquant_ptq_overrides_t *ovr = NULL;
  long long batch = 100;
  PyObject *gran_o = Py_None, *img[4] = {Py_None, Py_None, Py_None, Py_None};
  int pack4 = 0, reduce = 0;
  const char *act = "int8";
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&OO&|$sOOdpOsOOOOOOLsOpppzOOpsOOOOpO", kwlist, PyUnicode_FSConverter, &model_o, &calib_o,
                                   PyUnicode_FSConverter, &out_o, &weights, &wrange, &am, &percentile, &symact, &exclude, &format,
                                   &eval_o, &maxdrop_o, &report_o, &plot_o, &mean_o, &std_o, &batch, &mode, &smooth_o, &biascorr, &cle,
                                   &act_mm, &qops, &ovr_o, &gran_o, &pack4, &act, &img[0], &img[1], &img[2], &img[3], &reduce, &eval_labels_o))
    return NULL;
  PyObject *res = NULL, *excl_seq = NULL, *report_b = NULL, *plot_b = NULL;
  const char **excl = NULL;
  cquant_onnx_model_t *m = NULL;
  cquant_ptq_result_t *r = NULL;
  pysource_t cs, es;
  memset(&cs, 0, sizeof cs);
  memset(&es, 0, sizeof es);
  cquant_ptq_job_t job;
  memset(&job, 0, sizeof job);
  cquant_ptq_options_t o;
  cquant_ptq_options_default(&o);
  int st;
  if (!strcmp(weights, "int8")) o.weight_dtype = CQUANT_DT_S8;
  else if (!strcmp(weights, "int4")) o.weight_dtype = CQUANT_DT_S4;
  else if (!strcmp(weights, "uint4")) o.weight_dtype = CQUANT_DT_U4;
  else if (!strcmp(weights, "int2")) o.weight_dtype = CQUANT_DT_S2;
  else if (!strcmp(weights, "fp8e4m3")) o.weight_dtype = CQUANT_DT_F8E4M3;
  else { PyErr_Format(PyExc_ValueError, "weights must be 'int8', 'int4', 'uint4', 'int2' or 'fp8e4m3', not '%s'", weights); goto done; }
  if (!strcmp(act, "int8")) o.act = CQUANT_PTQ_ACT_INT8;
  else if (!strcmp(act, "none")) o.act = CQUANT_PTQ_ACT_NONE;
  else if (!strcmp(act, "fp8e4m3")) o.act = CQUANT_PTQ_ACT_FP8E4M3;
  else { PyErr_Format(PyExc_ValueError, "act must be 'int8', 'none' or 'fp8e4m3', not '%s'", act); goto done; }
  o.weight_packed = pack4;
  o.weight_reduce_range = reduce;
  if (gran_o != Py_None) { /* "channel", "tensor" (dynamic mode), "group:G" or G */
    const char *g = PyUnicode_Check(gran_o) ? PyUnicode_AsUTF8(gran_o) : NULL;
    long long G = 0;
    char *end = NULL;
    if (!g && PyLong_Check(gran_o)) G = PyLong_AsLongLong(gran_o);
    else if (g && !strncmp(g, "group:", 6)) G = strtoll(g + 6, &end, 10);
    if (g && !strcmp(g, "tensor")) o.weight_per_tensor = 1;
    else if (!(g && !strcmp(g, "channel"))) {
      if ((g && (!end || *end || end == g + 6)) || G < 16 || G > 256) {
        PyErr_SetString(PyExc_ValueError, "weight_granularity must be 'channel', 'tensor' (mode='dynamic'), 'group:G' or G, with G in 16..256");
        goto done;
      }
      o.weight_group = G;
    }
  }
  if (wrange != Py_None) {
    const char *w = PyUnicode_Check(wrange) ? PyUnicode_AsUTF8(wrange) : "";
    if (!strcmp(w, "minmax")) o.weight_mse = 0;
    else if (!strcmp(w, "mse")) o.weight_mse = 1;
    else { PyErr_SetString(PyExc_ValueError, "weight_range must be None, 'minmax' or 'mse'"); goto done; }
  }
  if (!strcmp(mode, "dynamic")) o.mode = CQUANT_PTQ_DYNAMIC;
  else if (strcmp(mode, "static")) { PyErr_Format(PyExc_ValueError, "mode must be 'static' or 'dynamic', not '%s'", mode); goto done; }
  if ((calib_o == Py_None) != (o.mode == CQUANT_PTQ_DYNAMIC)) {
    PyErr_SetString(PyExc_ValueError, o.mode ? "mode='dynamic' takes no calibration data (calib=None): activations are quantized at run time"
                                             : "calib data is needed (None only with mode='dynamic')");
    goto done;
  }
  if (!(percentile > 0 && percentile <= 100)) { PyErr_SetString(PyExc_ValueError, "percentile must be in (0, 100]"); goto done; }
  o.percentile = percentile;
  o.symmetric_act = symact;
  if (smooth_o != Py_None) { /* SmoothQuant's alpha */
    const double a = PyFloat_AsDouble(smooth_o);
    if (a == -1.0 && PyErr_Occurred()) goto done;
    if (!(a >= 0 && a <= 1)) { PyErr_Format(PyExc_ValueError, "smooth must be an alpha in [0, 1], not %g", a); goto done; }
    o.smooth = 1, o.smooth_alpha = (float)a;
  }
  o.bias_correction = biascorr;
  o.cle = cle;
  o.act_matmul = act_mm;
  if (qops && (st = cquant_ptq_quantize_ops_parse(qops, &o.quantize_ops))) { status_error(st); goto done; }
  if (ovr_o != Py_None) { /* a path to the JSON file */
    if (!PyUnicode_FSConverter(ovr_o, &ovr_b)) goto done;
    if ((st = cquant_ptq_overrides_load(PyBytes_AS_STRING(ovr_b), &ovr))) { status_error(st); goto done; }
    o.overrides = ovr;
  }
  if (!strcmp(format, "qdq")) job.format = CQUANT_PTQ_QDQ;
  else if (!strcmp(format, "qop")) job.format = CQUANT_PTQ_QOP;
  else if (!strcmp(format, "trt-cache")) job.format = CQUANT_PTQ_TRT_CACHE;
  else { PyErr_Format(PyExc_ValueError, "format must be 'qdq', 'qop' or 'trt-cache', not '%s'", format); goto done; }
  job.max_drop = -1;
  if (maxdrop_o != Py_None) {
    job.max_drop = PyFloat_AsDouble(maxdrop_o);
    if (PyErr_Occurred()) goto done;
    if (!(job.max_drop >= 0)) { PyErr_SetString(PyExc_ValueError, "max_drop must be a number of points >= 0"); goto done; }
    if (eval_o == Py_None) { PyErr_SetString(PyExc_ValueError, "max_drop needs eval data"); goto done; }
  }
  if (am) { if (parse_methods(am, &o)) goto done; }
  else o.methods = 1u << CQUANT_CALIB_MINMAX, o.order[0] = CQUANT_CALIB_MINMAX, o.n_order = 1;
  if (o.n_order > 1 && eval_o == Py_None) { PyErr_SetString(PyExc_ValueError, "several act_method values need eval data to choose between them"); goto done; }
  if (exclude && exclude != Py_None) {
    if (PyUnicode_Check(exclude)) { PyErr_SetString(PyExc_TypeError, "exclude: a list of node names"); goto done; }
    if (!(excl_seq = PySequence_Tuple(exclude))) goto done;
    o.n_exclude = (int)PyTuple_GET_SIZE(excl_seq);
    if (!(excl = calloc((size_t)o.n_exclude + 1, sizeof *excl))) { PyErr_NoMemory(); goto done; }
    for (int i = 0; i < o.n_exclude; i++)
      if (!(excl[i] = PyUnicode_Check(PyTuple_GET_ITEM(excl_seq, i)) ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(excl_seq, i)) : NULL)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "exclude: node names must be strings");
        goto done;
      }
    o.exclude = excl;
  }
  if (report_o != Py_None) { if (!PyUnicode_FSConverter(report_o, &report_b)) goto done; job.report_json = PyBytes_AS_STRING(report_b); }
  if (plot_o != Py_None) { if (!PyUnicode_FSConverter(plot_o, &plot_b)) goto done; job.plot_dir = PyBytes_AS_STRING(plot_b); }
  o.keep_histograms = job.plot_dir != NULL;
  job.want_report = 1;
  job.output = PyBytes_AS_STRING(out_o);
  if ((st = cquant_onnx_load(PyBytes_AS_STRING(model_o), &m))) { status_error(st); goto done; }
  cquant_data_options_t dopt;
  if (data_options(m, batch, mean_o, std_o, img, &dopt)) goto done;
  if (calib_o != Py_None && open_source(calib_o, "calib", m, &dopt, &cs, &job.calib)) goto done;
  if (eval_o != Py_None && open_source(eval_o, "eval", m, &dopt, &es, &job.eval)) goto done;
  if (eval_labels_o != Py_None && !job.eval) { PyErr_SetString(PyExc_ValueError, "eval_labels needs eval data"); goto done; }
  if (job.eval && attach_labels(job.eval, eval_labels_o)) goto done; /* a file of class ids for eval data without labels */
  st = cquant_ptq_run_job(m, &o, &job, &r);
  if (st) {
    pysource_t *src = cs.exc_type ? &cs : es.exc_type ? &es : NULL;
    if (src) { /* the Python exception raised inside a callback, carried out */
      PyErr_Restore(src->exc_type, src->exc_value, src->exc_tb);
      src->exc_type = src->exc_value = src->exc_tb = NULL;
    } else status_error(st);
    goto done;
  }
  char *json = NULL;
  if (r->dynamic) { /* no per-layer report: what was rewritten, the size and any top-1 */
    res = Py_BuildValue("{s:s,s:i,s:i,s:i,s:i,s:n}", "mode", "dynamic", "matmul", r->dyn.n_matmul, "gemm", r->dyn.n_gemm, "kept_float",
                        r->dyn.n_kept, "dynamic_quantize_linear", r->dyn.n_dynamic_quant, "output_bytes", (Py_ssize_t)r->output_bytes);
    PyObject *v = res && r->evaluated ? Py_BuildValue("{s:d,s:d}", "float", r->float_eval.top1, "integer", r->final.integer.top1) : NULL;
    if (v) { PyDict_SetItemString(res, "top1", v); Py_DECREF(v); }
    goto done;
  }
  if (!r->report) { res = PyDict_New(); goto done; }
  if ((st = cquant_ptq_report_json(r->report, &json))) { status_error(st); goto done; }
  PyObject *jmod = PyImport_ImportModule("json");
  if (jmod) {
    res = PyObject_CallMethod(jmod, "loads", "s", json);
    Py_DECREF(jmod);
  }
  free(json);
  if (res && PyDict_Check(res)) { /* what the CLI prints besides the report */
    PyObject *v = PyUnicode_FromString(cquant_calib_method_name(r->method));
    if (v) { PyDict_SetItemString(res, "chosen_method", v); Py_DECREF(v); }
    v = PyLong_FromLongLong(r->n_calib);
    if (v) { PyDict_SetItemString(res, "calib_samples", v); Py_DECREF(v); }
    v = PyLong_FromSize_t(r->output_bytes);
    if (v) { PyDict_SetItemString(res, "output_bytes", v); Py_DECREF(v); }
    if (r->evaluated) {
      v = Py_BuildValue("{s:d,s:d,s:d}", "float", r->float_eval.top1, "fake_quant", r->final.fake_quant.top1, "integer", r->final.integer.top1);
      if (v) { PyDict_SetItemString(res, "top1", v); Py_DECREF(v); }
      /* every method evaluated (eq. M1): its metric (top-1 %, or SQNR dB without labels), with labels
       * its split against the highest top-1 and McNemar's p, and the SQNR when the choice measured it */
      PyObject *ms = PyList_New(r->n_methods);
      const int lab = !r->float_eval.metric_sqnr;
      for (int k = 0; ms && k < r->n_methods; k++) {
        const cquant_ptq_method_eval_t *e = &r->methods[k];
        PyObject *d = lab ? Py_BuildValue("{s:s,s:d,s:d,s:L,s:L,s:d}", "method", cquant_calib_method_name(e->method), "fake_quant_top1", e->fake_quant.top1,
                                          "integer_top1", e->integer.top1, "won", (long long)e->mcnemar_won, "lost", (long long)e->mcnemar_lost, "p",
                                          e->mcnemar_p)
                          : Py_BuildValue("{s:s,s:d,s:d}", "method", cquant_calib_method_name(e->method), "fake_quant_sqnr_db", e->fake_quant.sqnr_db,
                                          "integer_sqnr_db", e->integer.sqnr_db);
        if (d && lab && e->tie_measured) {
          PyObject *q = PyFloat_FromDouble(e->tie_sqnr_db);
          if (q) { PyDict_SetItemString(d, "integer_sqnr_db", q); Py_DECREF(q); }
        }
        if (!d) { Py_CLEAR(ms); break; }
        PyList_SET_ITEM(ms, k, d);
      }
      if (ms) { PyDict_SetItemString(res, "methods", ms); Py_DECREF(ms); }
    }
    if (r->n_fallback_evals) { /* --max-drop ran: the layers kept in float (rank order) and its cost */
      PyObject *names = PyList_New(r->n_fallback);
      for (int k = 0; names && k < r->n_fallback; k++) PyList_SET_ITEM(names, k, PyUnicode_FromString(r->fallback[k].node));
      v = names ? Py_BuildValue("{s:O,s:i,s:O}", "float_layers", names, "evaluations", r->n_fallback_evals, "met", r->fallback_met ? Py_True : Py_False) : NULL;
      Py_XDECREF(names);
      if (v) { PyDict_SetItemString(res, "fallback", v); Py_DECREF(v); }
    }
  }
done:
  cquant_ptq_result_free(r);
  cquant_data_close(job.calib);
  cquant_data_close(job.eval);
  pysource_clear(&cs);
  pysource_clear(&es);
  cquant_onnx_free(m);
  free(excl);
  Py_XDECREF(excl_seq);
  Py_XDECREF(report_b);
  Py_XDECREF(plot_b);
  Py_XDECREF(ovr_b);
  cquant_ptq_overrides_free(ovr);
  Py_DECREF(model_o);
  Py_DECREF(out_o);
  return res;
}

/* ---- qat --------------------------------------------------------------------------------------- */

static int bits_of(const char *s, int allow_2, int *bits) {
  if (!strcmp(s, "int8")) *bits = 8;
  else if (!strcmp(s, "int4")) *bits = 4;
  else if (allow_2 && !strcmp(s, "int2")) *bits = 2;
  else if (!strcmp(s, "float")) *bits = 0;
  else return -1;
  return 0;
}

static PyObject *py_qat(PyObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"model", "data", "output", "weights", "act", "epochs", "lr", "batch", "optimizer", "lsq", "freeze_bn_after",
                           "init_method", "eval", "mean", "std", "seed", "threads", "max_steps", "weight_decay", "label_smoothing", "weight_clip", NULL};
  PyObject *model_o, *data_o, *out_o, *eval_o = Py_None, *mean_o = Py_None, *std_o = Py_None, *lr_o = Py_None;
  const char *weights = "int8", *act = "int8", *optimizer = "adamw", *init = "minmax", *clip = "auto";
  int epochs = 1, batch = 64, lsq = 0, freeze = -1, threads = 0;
  long long seed = 0, max_steps = 0;
  double wd = 0, ls = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&OO&|$ssiOispisOOOLiLdds", kwlist, PyUnicode_FSConverter, &model_o, &data_o, PyUnicode_FSConverter,
                                   &out_o, &weights, &act, &epochs, &lr_o, &batch, &optimizer, &lsq, &freeze, &init, &eval_o, &mean_o, &std_o,
                                   &seed, &threads, &max_steps, &wd, &ls, &clip))
    return NULL;
  PyObject *res = NULL;
  cquant_onnx_model_t *m = NULL;
  cquant_qat_t *q = NULL;
  cquant_data_t *d = NULL, *ev = NULL;
  pysource_t ds, es;
  memset(&ds, 0, sizeof ds);
  memset(&es, 0, sizeof es);
  cquant_qat_options_t o;
  cquant_qat_options_default(&o);
  int st;
  cquant_calib_method_t im;
  if (bits_of(weights, 1, &o.weight_bits)) { PyErr_Format(PyExc_ValueError, "weights must be 'int8', 'int4', 'int2' or 'float', not '%s'", weights); goto done; }
  if (bits_of(act, 0, &o.act_bits)) { PyErr_Format(PyExc_ValueError, "act must be 'int8', 'int4' or 'float', not '%s'", act); goto done; }
  if (!strcmp(optimizer, "sgd")) o.optimizer = CQUANT_QAT_SGD;
  else if (strcmp(optimizer, "adamw")) { PyErr_Format(PyExc_ValueError, "optimizer must be 'sgd' or 'adamw', not '%s'", optimizer); goto done; }
  if (cquant_calib_method_from_name(init, &im)) { status_error(CQUANT_STATUS_INVALID_ARGUMENT); goto done; }
  o.init_method = im;
  if (!strcmp(clip, "max")) o.weight_clip = CQUANT_QAT_CLIP_MAX;
  else if (!strcmp(clip, "mse")) o.weight_clip = CQUANT_QAT_CLIP_MSE;
  else if (strcmp(clip, "auto")) { PyErr_Format(PyExc_ValueError, "weight_clip must be 'auto', 'max' or 'mse', not '%s'", clip); goto done; }
  o.lr = o.optimizer == CQUANT_QAT_SGD ? 1e-2 : 1e-3;
  if (lr_o != Py_None && ((o.lr = PyFloat_AsDouble(lr_o)) == -1.0 && PyErr_Occurred())) goto done;
  o.epochs = epochs, o.batch = batch, o.lsq = lsq, o.freeze_bn_after = freeze, o.seed = (uint64_t)seed, o.threads = threads;
  o.max_steps = max_steps, o.weight_decay = wd, o.label_smoothing = ls;
  if ((st = cquant_onnx_load(PyBytes_AS_STRING(model_o), &m))) { status_error(st); goto done; }
  cquant_data_options_t dopt, eopt;
  if (data_options(m, batch, mean_o, std_o, NULL, &dopt)) goto done;
  eopt = dopt;
  eopt.batch = 500; /* evaluation batches */
  if (open_source(data_o, "data", m, &dopt, &ds, &d)) goto done;
  if (eval_o != Py_None && open_source(eval_o, "eval", m, &eopt, &es, &ev)) goto done;
  cquant_qat_result_t r;
  if ((st = cquant_qat_create(m, &o, &q)) || (st = cquant_qat_init_ranges(q, d)) || (st = cquant_qat_train(q, d, ev, &r)) ||
      (st = cquant_qat_save(q, PyBytes_AS_STRING(out_o), NULL))) {
    pysource_t *src = ds.exc_type ? &ds : es.exc_type ? &es : NULL;
    if (src) {
      PyErr_Restore(src->exc_type, src->exc_value, src->exc_tb);
      src->exc_type = src->exc_value = src->exc_tb = NULL;
    } else status_error(st);
    goto done;
  }
  res = Py_BuildValue("{s:L,s:L,s:d,s:d,s:d,s:d}", "steps", (long long)r.steps, "samples", (long long)r.samples, "seconds", r.seconds,
                      "seconds_per_epoch", r.seconds_per_epoch, "loss", r.final_loss, "train_top1", r.train_top1);
  if (res && r.evaluated) {
    PyObject *v = PyFloat_FromDouble(r.eval_top1);
    if (v) { PyDict_SetItemString(res, "eval_top1", v); Py_DECREF(v); }
  }
done:
  cquant_qat_free(q);
  cquant_data_close(d);
  cquant_data_close(ev);
  pysource_clear(&ds);
  pysource_clear(&es);
  cquant_onnx_free(m);
  Py_DECREF(model_o);
  Py_DECREF(out_o);
  return res;
}

/* ---- module ------------------------------------------------------------------------------------ */

static PyMethodDef module_methods[] = {
  {"quantize", (PyCFunction)(void (*)(void))py_quantize, METH_VARARGS | METH_KEYWORDS,
   "quantize(x, *, dtype='int8', symmetric=None, axis=None, group_size=None, narrow_range=False, rounding='div',\n"
   "scale=None, zero_point=None, qp=None) -> (q, QParams), as `cquant quantize`."},
  {"dequantize", (PyCFunction)(void (*)(void))py_dequantize, METH_VARARGS | METH_KEYWORDS, "dequantize(q, qp) -> float32 array."},
  {"fake_quantize", (PyCFunction)(void (*)(void))py_fake_quantize, METH_VARARGS | METH_KEYWORDS,
   "fake_quantize(x, **quantize options) -> float32 array, as `cquant fake-quant`."},
  {"error_report", (PyCFunction)(void (*)(void))py_error_report, METH_VARARGS | METH_KEYWORDS,
   "error_report(ref, test, qp=None) -> dict (cquant_error_report_t)."},
  {"run", (PyCFunction)(void (*)(void))py_run, METH_VARARGS | METH_KEYWORDS,
   "run(model_path, {input: array}, *, exec='float'|'int') -> {output: array}."},
  {"eval", (PyCFunction)(void (*)(void))py_eval, METH_VARARGS | METH_KEYWORDS,
   "eval(model_path, data, *, labels=None, exec='float'|'int', batch=100, mean=None, std=None, resize=None, crop=None,\n"
   "channel_order=None, layout=None) -> {'top1', 'correct', 'n', 'us_per_sample', 'predictions'}, as `cquant eval`: top-1 of\n"
   "the model's first output on labelled data (a spec string, a dict {input name: spec}, or an iterable of (batch,\n"
   "labels)); labels: a .npy of class ids for data without any; predictions: each sample's class (None when the\n"
   "data's size is not known in advance)."},
  {"ptq", (PyCFunction)(void (*)(void))py_ptq, METH_VARARGS | METH_KEYWORDS,
   "ptq(model_path, calib, output, *, weights='int8', weight_range=None, act_method='minmax', percentile=99.99,\n"
   "symmetric_act=False, exclude=(), format='qdq', eval=None, max_drop=None, report=None, plot=None, mean=None,\n"
   "std=None, batch=100, mode='static', smooth=None, bias_correction=False, cle=False, quantize_act_matmul=True,\n"
   "quantize_ops=None, overrides=None, weight_granularity=None, pack_int4=False, act='int8', resize=None, crop=None,\n"
   "channel_order=None, layout=None, reduce_range=False, eval_labels=None) -> the per-layer report as a dict, as `cquant ptq`.\n"
   "eval_labels: a .npy of class ids for eval data without labels (--eval-labels). weights: int8, int4, uint4,\n"
   "int2, fp8e4m3; weight_granularity: 'channel', 'group:G' or G, 'tensor' (dynamic); act: int8, none, fp8e4m3; image\n"
   "folders: resize=S or (H, W), crop=C or (H, W), channel_order 'rgb'|'bgr'|'gray', layout 'nchw'|'nhwc', mean/std one\n"
   "number or three; calib/eval may be a dict {input name: spec} for several inputs. smooth=ALPHA (in [0, 1]):\n"
   "SmoothQuant; bias_correction, cle: as --bias-correction, --cle (each layer's 'smooth', 'bias_correction', 'cle'\n"
   "entries say what they changed). quantize_ops: 'LayerNormalization,Softmax,Gelu,...' (--quantize-ops); overrides:\n"
   "the path of a per-node JSON file (--overrides). mode='dynamic' (calib=None): int8 MatMul/Gemm weights, activations\n"
   "quantized at run time; returns what was rewritten."},
  {"qat", (PyCFunction)(void (*)(void))py_qat, METH_VARARGS | METH_KEYWORDS,
   "qat(model_path, data, output, *, weights='int8', act='int8', epochs=1, lr=None, batch=64, optimizer='adamw', lsq=False,\n"
   "freeze_bn_after=-1, init_method='minmax', eval=None, mean=None, std=None, seed=0, threads=0, max_steps=0, weight_decay=0,\n"
   "label_smoothing=0, weight_clip='auto') -> dict of the run, as `cquant qat` (data: a spec string or an iterable of (batch, labels))."},
  {NULL}
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "cquant", "Neural-network quantization (libcquant).", -1, module_methods};

PyMODINIT_FUNC PyInit_cquant(void) {
  import_array();
  if (PyType_Ready(&QParamsType) < 0 || PyType_Ready(&ObserverType) < 0) return NULL;
  PyObject *mod = PyModule_Create(&module_def);
  if (!mod) return NULL;
  Py_INCREF(&QParamsType);
  Py_INCREF(&ObserverType);
  if (PyModule_AddObject(mod, "QParams", (PyObject *)&QParamsType) < 0 || PyModule_AddObject(mod, "Observer", (PyObject *)&ObserverType) < 0) {
    Py_DECREF(mod);
    return NULL;
  }
  return mod;
}
