//go:build cuda

/*
 * shim.c: calls through the function pointers resolved by Load.
 *
 * Two rules hold for every function here:
 *
 *  1. dlerror() is read in the same C function as the failing dlopen/dlsym:
 *     its state is per OS thread, and a goroutine may move to another thread
 *     between two cgo calls.
 *  2. Every call that needs a CUDA context takes it and makes it current with
 *     cuCtxSetCurrent in the same C call, right before the library call: the
 *     current context is per OS thread too, so setting it in an earlier cgo
 *     call would not survive a goroutine moving threads. cuBLAS and cuDNN use
 *     the context current on the calling thread.
 *
 * Device pointers travel as CUdeviceptr (an integer) and become void* here,
 * which keeps integer-to-pointer conversions out of the Go code. Scalars that
 * the libraries want by address (alpha, beta) are C locals of the function
 * making the call.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "shim.h"

#if defined(__LP64__)
/* The layout derived in shim.h from the cuDNN headers' member list. */
_Static_assert(sizeof(repro_perf) == 48, "cudnnConvolution*AlgoPerf_t is 48 bytes on LP64");
_Static_assert(offsetof(repro_perf, memory) == 16, "memory at offset 16");
_Static_assert(offsetof(repro_perf, reserved) == 32, "reserved at offset 32");
_Static_assert(sizeof(CUdeviceptr) == 8, "CUdeviceptr is 64 bits");
#endif

#define REPRO_SYM_NAME(lib, name, optional) #name,
#define REPRO_SYM_LIBNO(lib, name, optional) lib,
#define REPRO_SYM_OPT(lib, name, optional) optional,
static const char *const sym_names[] = {REPRO_SYMBOLS(REPRO_SYM_NAME)};
static const int sym_libs[] = {REPRO_SYMBOLS(REPRO_SYM_LIBNO)};
static const int sym_optional[] = {REPRO_SYMBOLS(REPRO_SYM_OPT)};

int repro_sym_count(void) { return REPRO_SYM_COUNT; }
const char *repro_sym_name(int i) { return sym_names[i]; }
int repro_sym_lib(int i) { return sym_libs[i]; }
int repro_sym_optional(int i) { return sym_optional[i]; }
void repro_tbl_set(repro_tbl *t, int i, void *p) { t->fn[i] = p; }
void *repro_tbl_get(repro_tbl *t, int i) { return t->fn[i]; }

static void copy_err(char *err, size_t errlen, const char *what, const char *fallback) {
    if (err == NULL || errlen == 0) return;
    snprintf(err, errlen, "%s", what != NULL ? what : fallback);
}

void *repro_dlopen(const char *path, char *err, size_t errlen) {
    dlerror(); /* clear a stale error of this thread */
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (h == NULL) copy_err(err, errlen, dlerror(), "dlopen failed without a dlerror message");
    return h;
}

void *repro_dlsym(void *handle, const char *name, char *err, size_t errlen) {
    dlerror();
    void *p = dlsym(handle, name);
    if (p == NULL) copy_err(err, errlen, dlerror(), "symbol resolved to NULL");
    return p;
}

int repro_dladdr(void *sym, char *buf, size_t len) {
    Dl_info info;
    if (sym == NULL || len == 0 || dladdr(sym, &info) == 0 || info.dli_fname == NULL) return 0;
    snprintf(buf, len, "%s", info.dli_fname);
    return 1;
}

void repro_perf_layout(size_t out[8]) {
    out[0] = sizeof(repro_perf);
    out[1] = offsetof(repro_perf, algo);
    out[2] = offsetof(repro_perf, status);
    out[3] = offsetof(repro_perf, time);
    out[4] = offsetof(repro_perf, memory);
    out[5] = offsetof(repro_perf, determinism);
    out[6] = offsetof(repro_perf, mathType);
    out[7] = offsetof(repro_perf, reserved);
}

void repro_args_init(repro_args *a) {
    for (int i = 0; i < REPRO_MAX_ARGS; i++) {
        a->slot[i] = 0;
        a->ptr[i] = &a->slot[i];
    }
}

/* F(t, name): the resolved pointer of symbol name, with its own type. */
#define F(t, name) ((PFN_##name)(t)->fn[SYM_##name])
#define DP(p) ((void *)(uintptr_t)(p))

static repro_rc rc(int code) {
    repro_rc r = {code, 0};
    return r;
}

#define SETCTX(t, ctx)                                     \
    do {                                                   \
        CUresult e_ = F(t, cuCtxSetCurrent)(ctx);          \
        if (e_ != 0) {                                     \
            repro_rc r_ = {e_, 1};                         \
            return r_;                                     \
        }                                                  \
    } while (0)

/* ------------------------------------------------------------------ driver */

void repro_cu_error(repro_tbl *t, CUresult r, const char **name, const char **desc) {
    *name = NULL;
    *desc = NULL;
    if (F(t, cuGetErrorName)(r, name) != 0) *name = NULL;
    if (F(t, cuGetErrorString)(r, desc) != 0) *desc = NULL;
}

repro_rc repro_cu_init(repro_tbl *t) { return rc(F(t, cuInit)(0)); }
repro_rc repro_cu_driver_version(repro_tbl *t, int *v) { return rc(F(t, cuDriverGetVersion)(v)); }
repro_rc repro_cu_device_count(repro_tbl *t, int *n) { return rc(F(t, cuDeviceGetCount)(n)); }
repro_rc repro_cu_device_get(repro_tbl *t, int ordinal, CUdevice *dev) {
    return rc(F(t, cuDeviceGet)(dev, ordinal));
}
repro_rc repro_cu_device_name(repro_tbl *t, CUdevice dev, char *name, int len) {
    return rc(F(t, cuDeviceGetName)(name, len, dev));
}
repro_rc repro_cu_device_total_mem(repro_tbl *t, CUdevice dev, size_t *bytes) {
    return rc(F(t, cuDeviceTotalMem_v2)(bytes, dev));
}
repro_rc repro_cu_primary_retain(repro_tbl *t, CUdevice dev, CUcontext *ctx) {
    return rc(F(t, cuDevicePrimaryCtxRetain)(ctx, dev));
}
repro_rc repro_cu_primary_release(repro_tbl *t, CUdevice dev) {
    return rc(F(t, cuDevicePrimaryCtxRelease_v2)(dev));
}

repro_rc repro_cu_mem_alloc(repro_tbl *t, CUcontext ctx, size_t bytes, CUdeviceptr *p) {
    SETCTX(t, ctx);
    return rc(F(t, cuMemAlloc_v2)(p, bytes));
}
repro_rc repro_cu_mem_free(repro_tbl *t, CUcontext ctx, CUdeviceptr p) {
    SETCTX(t, ctx);
    return rc(F(t, cuMemFree_v2)(p));
}
repro_rc repro_cu_mem_info(repro_tbl *t, CUcontext ctx, size_t *free_bytes, size_t *total_bytes) {
    SETCTX(t, ctx);
    return rc(F(t, cuMemGetInfo_v2)(free_bytes, total_bytes));
}
repro_rc repro_cu_htod(repro_tbl *t, CUcontext ctx, CUdeviceptr dst, const void *src, size_t n, CUstream s) {
    SETCTX(t, ctx);
    return rc(F(t, cuMemcpyHtoDAsync_v2)(dst, src, n, s));
}
repro_rc repro_cu_dtoh(repro_tbl *t, CUcontext ctx, void *dst, CUdeviceptr src, size_t n, CUstream s) {
    SETCTX(t, ctx);
    return rc(F(t, cuMemcpyDtoHAsync_v2)(dst, src, n, s));
}
repro_rc repro_cu_dtod(repro_tbl *t, CUcontext ctx, CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    SETCTX(t, ctx);
    return rc(F(t, cuMemcpyDtoDAsync_v2)(dst, src, n, s));
}
repro_rc repro_cu_memset32(repro_tbl *t, CUcontext ctx, CUdeviceptr dst, unsigned int v, size_t n, CUstream s) {
    SETCTX(t, ctx);
    return rc(F(t, cuMemsetD32Async)(dst, v, n, s));
}
repro_rc repro_cu_stream_create(repro_tbl *t, CUcontext ctx, unsigned int flags, CUstream *s) {
    SETCTX(t, ctx);
    return rc(F(t, cuStreamCreate)(s, flags));
}
repro_rc repro_cu_stream_destroy(repro_tbl *t, CUcontext ctx, CUstream s) {
    SETCTX(t, ctx);
    return rc(F(t, cuStreamDestroy_v2)(s));
}
repro_rc repro_cu_stream_sync(repro_tbl *t, CUcontext ctx, CUstream s) {
    SETCTX(t, ctx);
    return rc(F(t, cuStreamSynchronize)(s));
}

repro_rc repro_cu_module_load(repro_tbl *t, CUcontext ctx, const void *image, CUmodule *m, CUjit_option opt_log,
                              CUjit_option opt_log_size, char *log, size_t log_size) {
    SETCTX(t, ctx);
    /* CU_JIT_ERROR_LOG_BUFFER takes a char*, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
     * the buffer size as an unsigned int stored in the void* slot (on output
     * the number of bytes written). */
    CUjit_option opts[2] = {opt_log, opt_log_size};
    void *vals[2] = {log, (void *)(uintptr_t)(unsigned int)log_size};
    if (log_size > 0) log[0] = 0;
    CUresult r = F(t, cuModuleLoadDataEx)(m, image, 2, opts, vals);
    if (log_size > 0) log[log_size - 1] = 0;
    return rc(r);
}
repro_rc repro_cu_module_function(repro_tbl *t, CUcontext ctx, CUmodule m, const char *name, CUfunction *f) {
    SETCTX(t, ctx);
    return rc(F(t, cuModuleGetFunction)(f, m, name));
}
repro_rc repro_cu_module_unload(repro_tbl *t, CUcontext ctx, CUmodule m) {
    SETCTX(t, ctx);
    return rc(F(t, cuModuleUnload)(m));
}
repro_rc repro_cu_launch(repro_tbl *t, CUcontext ctx, CUfunction f, unsigned int gx, unsigned int gy,
                         unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                         CUstream s, void **params) {
    SETCTX(t, ctx);
    return rc(F(t, cuLaunchKernel)(f, gx, gy, gz, bx, by, bz, shared, s, params, NULL));
}
repro_rc repro_cu_begin_capture(repro_tbl *t, CUcontext ctx, CUstream s, CUstreamCaptureMode mode) {
    SETCTX(t, ctx);
    return rc(F(t, cuStreamBeginCapture_v2)(s, mode));
}
repro_rc repro_cu_end_capture(repro_tbl *t, CUcontext ctx, CUstream s, CUgraph *g) {
    SETCTX(t, ctx);
    return rc(F(t, cuStreamEndCapture)(s, g));
}
repro_rc repro_cu_graph_instantiate(repro_tbl *t, CUcontext ctx, CUgraph g, CUgraphExec *e) {
    SETCTX(t, ctx);
    return rc(F(t, cuGraphInstantiateWithFlags)(e, g, 0));
}
repro_rc repro_cu_graph_launch(repro_tbl *t, CUcontext ctx, CUgraphExec e, CUstream s) {
    SETCTX(t, ctx);
    return rc(F(t, cuGraphLaunch)(e, s));
}
repro_rc repro_cu_graph_exec_destroy(repro_tbl *t, CUcontext ctx, CUgraphExec e) {
    SETCTX(t, ctx);
    return rc(F(t, cuGraphExecDestroy)(e));
}
repro_rc repro_cu_graph_destroy(repro_tbl *t, CUcontext ctx, CUgraph g) {
    SETCTX(t, ctx);
    return rc(F(t, cuGraphDestroy)(g));
}
repro_rc repro_cu_event_create(repro_tbl *t, CUcontext ctx, unsigned int flags, CUevent *e) {
    SETCTX(t, ctx);
    return rc(F(t, cuEventCreate)(e, flags));
}
repro_rc repro_cu_event_record(repro_tbl *t, CUcontext ctx, CUevent e, CUstream s) {
    SETCTX(t, ctx);
    return rc(F(t, cuEventRecord)(e, s));
}
/* Waits for end, then reads the milliseconds between the two events. */
repro_rc repro_cu_event_elapsed(repro_tbl *t, CUcontext ctx, CUevent start, CUevent end, float *ms) {
    SETCTX(t, ctx);
    CUresult r = F(t, cuEventSynchronize)(end);
    if (r != 0) return rc(r);
    if (t->fn[SYM_cuEventElapsedTime_v2]) return rc(F(t, cuEventElapsedTime_v2)(ms, start, end));
    if (t->fn[SYM_cuEventElapsedTime]) return rc(F(t, cuEventElapsedTime)(ms, start, end));
    return rc(500); /* CUDA_ERROR_NOT_FOUND: the driver exports neither */
}
repro_rc repro_cu_event_destroy(repro_tbl *t, CUcontext ctx, CUevent e) {
    SETCTX(t, ctx);
    return rc(F(t, cuEventDestroy_v2)(e));
}
repro_rc repro_cu_stream_wait_event(repro_tbl *t, CUcontext ctx, CUstream s, CUevent e) {
    SETCTX(t, ctx);
    return rc(F(t, cuStreamWaitEvent)(s, e, 0)); /* CU_EVENT_WAIT_DEFAULT */
}

/* ------------------------------------------------------------------ cuBLAS */

const char *repro_blas_status_name(repro_tbl *t, cublasStatus_t s) {
    return t->fn[SYM_cublasGetStatusName] ? F(t, cublasGetStatusName)(s) : NULL;
}
const char *repro_blas_status_string(repro_tbl *t, cublasStatus_t s) {
    return t->fn[SYM_cublasGetStatusString] ? F(t, cublasGetStatusString)(s) : NULL;
}
int repro_blas_property(repro_tbl *t, libraryPropertyType type, int *value) {
    if (t->fn[SYM_cublasGetProperty] == NULL) return -1;
    return F(t, cublasGetProperty)(type, value);
}
repro_rc repro_blas_create(repro_tbl *t, CUcontext ctx, cublasHandle_t *h) {
    SETCTX(t, ctx);
    return rc(F(t, cublasCreate_v2)(h));
}
repro_rc repro_blas_destroy(repro_tbl *t, CUcontext ctx, cublasHandle_t h) {
    SETCTX(t, ctx);
    return rc(F(t, cublasDestroy_v2)(h));
}
repro_rc repro_blas_set_stream(repro_tbl *t, CUcontext ctx, cublasHandle_t h, CUstream s) {
    SETCTX(t, ctx);
    return rc(F(t, cublasSetStream_v2)(h, s));
}
repro_rc repro_blas_version(repro_tbl *t, CUcontext ctx, cublasHandle_t h, int *v) {
    SETCTX(t, ctx);
    return rc(F(t, cublasGetVersion_v2)(h, v));
}
repro_rc repro_blas_set_math(repro_tbl *t, CUcontext ctx, cublasHandle_t h, cublasMath_t mode) {
    SETCTX(t, ctx);
    return rc(F(t, cublasSetMathMode)(h, mode));
}
repro_rc repro_blas_sgemm(repro_tbl *t, CUcontext ctx, cublasHandle_t h, cublasOperation_t ta,
                          cublasOperation_t tb, int m, int n, int k, float alpha, CUdeviceptr A, int lda,
                          CUdeviceptr B, int ldb, float beta, CUdeviceptr C, int ldc) {
    SETCTX(t, ctx);
    /* alpha and beta are host pointers (the default CUBLAS_POINTER_MODE_HOST). */
    return rc(F(t, cublasSgemm_v2)(h, ta, tb, m, n, k, &alpha, (const float *)DP(A), lda, (const float *)DP(B), ldb,
                                   &beta, (float *)DP(C), ldc));
}

/* ------------------------------------------------------------------- cuDNN */

size_t repro_dnn_version(repro_tbl *t) { return F(t, cudnnGetVersion)(); }
const char *repro_dnn_error_string(repro_tbl *t, cudnnStatus_t s) { return F(t, cudnnGetErrorString)(s); }
repro_rc repro_dnn_create(repro_tbl *t, CUcontext ctx, cudnnHandle_t *h) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnCreate)(h));
}
repro_rc repro_dnn_destroy(repro_tbl *t, CUcontext ctx, cudnnHandle_t h) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnDestroy)(h));
}
repro_rc repro_dnn_set_stream(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, CUstream s) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnSetStream)(h, s));
}
repro_rc repro_dnn_tensor_create(repro_tbl *t, cudnnTensorDescriptor_t *d) {
    return rc(F(t, cudnnCreateTensorDescriptor)(d));
}
repro_rc repro_dnn_tensor_destroy(repro_tbl *t, cudnnTensorDescriptor_t d) {
    return rc(F(t, cudnnDestroyTensorDescriptor)(d));
}
repro_rc repro_dnn_tensor_set(repro_tbl *t, cudnnTensorDescriptor_t d, cudnnDataType_t dt, int n, int c, int h,
                              int w, int ns, int cs, int hs, int ws) {
    return rc(F(t, cudnnSetTensor4dDescriptorEx)(d, dt, n, c, h, w, ns, cs, hs, ws));
}
repro_rc repro_dnn_filter_create(repro_tbl *t, cudnnFilterDescriptor_t *d) {
    return rc(F(t, cudnnCreateFilterDescriptor)(d));
}
repro_rc repro_dnn_filter_destroy(repro_tbl *t, cudnnFilterDescriptor_t d) {
    return rc(F(t, cudnnDestroyFilterDescriptor)(d));
}
repro_rc repro_dnn_filter_set(repro_tbl *t, cudnnFilterDescriptor_t d, cudnnDataType_t dt, cudnnTensorFormat_t f,
                              int k, int c, int h, int w) {
    return rc(F(t, cudnnSetFilter4dDescriptor)(d, dt, f, k, c, h, w));
}
repro_rc repro_dnn_conv_create(repro_tbl *t, cudnnConvolutionDescriptor_t *d) {
    return rc(F(t, cudnnCreateConvolutionDescriptor)(d));
}
repro_rc repro_dnn_conv_destroy(repro_tbl *t, cudnnConvolutionDescriptor_t d) {
    return rc(F(t, cudnnDestroyConvolutionDescriptor)(d));
}
repro_rc repro_dnn_conv_set(repro_tbl *t, cudnnConvolutionDescriptor_t d, int ph, int pw, int sh, int sw, int dh,
                            int dw, cudnnConvolutionMode_t mode, cudnnDataType_t compute) {
    return rc(F(t, cudnnSetConvolution2dDescriptor)(d, ph, pw, sh, sw, dh, dw, mode, compute));
}
repro_rc repro_dnn_conv_math(repro_tbl *t, cudnnConvolutionDescriptor_t d, cudnnMathType_t m) {
    return rc(F(t, cudnnSetConvolutionMathType)(d, m));
}
repro_rc repro_dnn_derive_bn(repro_tbl *t, cudnnTensorDescriptor_t dst, cudnnTensorDescriptor_t x,
                             cudnnBatchNormMode_t mode) {
    return rc(F(t, cudnnDeriveBNTensorDescriptor)(dst, x, mode));
}

repro_rc repro_dnn_find_fwd(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnTensorDescriptor_t xd,
                            CUdeviceptr x, cudnnFilterDescriptor_t wd, CUdeviceptr w,
                            cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, CUdeviceptr y, int req,
                            int *ret, repro_perf *perf, CUdeviceptr ws, size_t ws_bytes) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnFindConvolutionForwardAlgorithmEx)(h, xd, DP(x), wd, DP(w), cd, yd, DP(y), req, ret, perf,
                                                          DP(ws), ws_bytes));
}
repro_rc repro_dnn_find_bwd_data(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnFilterDescriptor_t wd,
                                 CUdeviceptr w, cudnnTensorDescriptor_t dyd, CUdeviceptr dy,
                                 cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t dxd, CUdeviceptr dx,
                                 int req, int *ret, repro_perf *perf, CUdeviceptr ws, size_t ws_bytes) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnFindConvolutionBackwardDataAlgorithmEx)(h, wd, DP(w), dyd, DP(dy), cd, dxd, DP(dx), req, ret,
                                                               perf, DP(ws), ws_bytes));
}
repro_rc repro_dnn_find_bwd_filter(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnTensorDescriptor_t xd,
                                   CUdeviceptr x, cudnnTensorDescriptor_t dyd, CUdeviceptr dy,
                                   cudnnConvolutionDescriptor_t cd, cudnnFilterDescriptor_t dwd, CUdeviceptr dw,
                                   int req, int *ret, repro_perf *perf, CUdeviceptr ws, size_t ws_bytes) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnFindConvolutionBackwardFilterAlgorithmEx)(h, xd, DP(x), dyd, DP(dy), cd, dwd, DP(dw), req,
                                                                 ret, perf, DP(ws), ws_bytes));
}
repro_rc repro_dnn_ws_fwd(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnTensorDescriptor_t xd,
                          cudnnFilterDescriptor_t wd, cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd,
                          int algo, size_t *bytes) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnGetConvolutionForwardWorkspaceSize)(h, xd, wd, cd, yd, algo, bytes));
}
repro_rc repro_dnn_ws_bwd_data(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnFilterDescriptor_t wd,
                               cudnnTensorDescriptor_t dyd, cudnnConvolutionDescriptor_t cd,
                               cudnnTensorDescriptor_t dxd, int algo, size_t *bytes) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnGetConvolutionBackwardDataWorkspaceSize)(h, wd, dyd, cd, dxd, algo, bytes));
}
repro_rc repro_dnn_ws_bwd_filter(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnTensorDescriptor_t xd,
                                 cudnnTensorDescriptor_t dyd, cudnnConvolutionDescriptor_t cd,
                                 cudnnFilterDescriptor_t dwd, int algo, size_t *bytes) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnGetConvolutionBackwardFilterWorkspaceSize)(h, xd, dyd, cd, dwd, algo, bytes));
}
repro_rc repro_dnn_conv_fwd(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, float alpha, cudnnTensorDescriptor_t xd,
                            CUdeviceptr x, cudnnFilterDescriptor_t wd, CUdeviceptr w,
                            cudnnConvolutionDescriptor_t cd, int algo, CUdeviceptr ws, size_t ws_bytes, float beta,
                            cudnnTensorDescriptor_t yd, CUdeviceptr y) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnConvolutionForward)(h, &alpha, xd, DP(x), wd, DP(w), cd, algo, DP(ws), ws_bytes, &beta, yd,
                                           DP(y)));
}
repro_rc repro_dnn_conv_bwd_data(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, float alpha,
                                 cudnnFilterDescriptor_t wd, CUdeviceptr w, cudnnTensorDescriptor_t dyd,
                                 CUdeviceptr dy, cudnnConvolutionDescriptor_t cd, int algo, CUdeviceptr ws,
                                 size_t ws_bytes, float beta, cudnnTensorDescriptor_t dxd, CUdeviceptr dx) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnConvolutionBackwardData)(h, &alpha, wd, DP(w), dyd, DP(dy), cd, algo, DP(ws), ws_bytes,
                                                &beta, dxd, DP(dx)));
}
repro_rc repro_dnn_conv_bwd_filter(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, float alpha,
                                   cudnnTensorDescriptor_t xd, CUdeviceptr x, cudnnTensorDescriptor_t dyd,
                                   CUdeviceptr dy, cudnnConvolutionDescriptor_t cd, int algo, CUdeviceptr ws,
                                   size_t ws_bytes, float beta, cudnnFilterDescriptor_t dwd, CUdeviceptr dw) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnConvolutionBackwardFilter)(h, &alpha, xd, DP(x), dyd, DP(dy), cd, algo, DP(ws), ws_bytes,
                                                  &beta, dwd, DP(dw)));
}
repro_rc repro_dnn_bn_fwd_train(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnBatchNormMode_t mode,
                                float alpha, float beta, cudnnTensorDescriptor_t xd, CUdeviceptr x,
                                cudnnTensorDescriptor_t yd, CUdeviceptr y, cudnnTensorDescriptor_t bnd,
                                CUdeviceptr scale, CUdeviceptr bias, double factor, CUdeviceptr run_mean,
                                CUdeviceptr run_var, double eps, CUdeviceptr save_mean, CUdeviceptr save_inv_var) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnBatchNormalizationForwardTraining)(h, mode, &alpha, &beta, xd, DP(x), yd, DP(y), bnd,
                                                          DP(scale), DP(bias), factor, DP(run_mean), DP(run_var), eps,
                                                          DP(save_mean), DP(save_inv_var)));
}
repro_rc repro_dnn_bn_fwd_infer(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnBatchNormMode_t mode,
                                float alpha, float beta, cudnnTensorDescriptor_t xd, CUdeviceptr x,
                                cudnnTensorDescriptor_t yd, CUdeviceptr y, cudnnTensorDescriptor_t bnd,
                                CUdeviceptr scale, CUdeviceptr bias, CUdeviceptr mean, CUdeviceptr var,
                                double eps) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnBatchNormalizationForwardInference)(h, mode, &alpha, &beta, xd, DP(x), yd, DP(y), bnd,
                                                           DP(scale), DP(bias), DP(mean), DP(var), eps));
}
repro_rc repro_dnn_bn_bwd(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnBatchNormMode_t mode,
                          float alpha_data, float beta_data, float alpha_param, float beta_param,
                          cudnnTensorDescriptor_t xd, CUdeviceptr x, cudnnTensorDescriptor_t dyd, CUdeviceptr dy,
                          cudnnTensorDescriptor_t dxd, CUdeviceptr dx, cudnnTensorDescriptor_t bnd,
                          CUdeviceptr scale, CUdeviceptr dscale, CUdeviceptr dbias, double eps,
                          CUdeviceptr saved_mean, CUdeviceptr saved_inv_var) {
    SETCTX(t, ctx);
    return rc(F(t, cudnnBatchNormalizationBackward)(h, mode, &alpha_data, &beta_data, &alpha_param, &beta_param, xd,
                                                   DP(x), dyd, DP(dy), dxd, DP(dx), bnd, DP(scale), DP(dscale),
                                                   DP(dbias), eps, DP(saved_mean), DP(saved_inv_var)));
}

/* --------------------------------------------------------- cuDNN backend API */

/* Attribute names and types used here ([cudnn 9.6] cudnn_graph.h). */
#define BE_VARIANT_PACK_DESCRIPTOR 16 /* CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR */
#define BE_ATTR_VARIANT_PACK_UNIQUE_IDS 1000
#define BE_ATTR_VARIANT_PACK_DATA_POINTERS 1001
#define BE_ATTR_VARIANT_PACK_WORKSPACE 1003
#define BE_TYPE_INT64 3    /* CUDNN_TYPE_INT64 */
#define BE_TYPE_VOID_PTR 6 /* CUDNN_TYPE_VOID_PTR */
#define BE_MAX_TENSORS 8

int repro_dnn_be_available(repro_tbl *t) {
    return t->fn[SYM_cudnnBackendCreateDescriptor] && t->fn[SYM_cudnnBackendDestroyDescriptor] &&
           t->fn[SYM_cudnnBackendFinalize] && t->fn[SYM_cudnnBackendSetAttribute] &&
           t->fn[SYM_cudnnBackendGetAttribute] && t->fn[SYM_cudnnBackendExecute];
}
/* be_rc is rc(s) that, on failure, also copies cuDNN's message of it into
 * msg: cudnnGetLastErrorString reads this thread's last error, so it must be
 * read in the same C call as the failure (as dlerror, rule 1 above). */
static repro_rc be_rc(repro_tbl *t, int s, char *msg, size_t len) {
    if (s != 0 && msg != NULL && len > 0) {
        msg[0] = 0;
        if (t->fn[SYM_cudnnGetLastErrorString]) F(t, cudnnGetLastErrorString)(msg, len);
        msg[len - 1] = 0;
    }
    return rc(s);
}
/* Every backend call runs with the caller's context current (rule 2): a
 * finalized plan holds kernels of that context, and destroying it unloads
 * them. */
repro_rc repro_dnn_be_create(repro_tbl *t, CUcontext ctx, int type, cudnnBackendDescriptor_t *d, char *msg,
                             size_t len) {
    SETCTX(t, ctx);
    return be_rc(t, F(t, cudnnBackendCreateDescriptor)(type, d), msg, len);
}
repro_rc repro_dnn_be_destroy(repro_tbl *t, CUcontext ctx, cudnnBackendDescriptor_t d, char *msg, size_t len) {
    SETCTX(t, ctx);
    return be_rc(t, F(t, cudnnBackendDestroyDescriptor)(d), msg, len);
}
repro_rc repro_dnn_be_finalize(repro_tbl *t, CUcontext ctx, cudnnBackendDescriptor_t d, char *msg, size_t len) {
    SETCTX(t, ctx);
    return be_rc(t, F(t, cudnnBackendFinalize)(d), msg, len);
}
repro_rc repro_dnn_be_set(repro_tbl *t, CUcontext ctx, cudnnBackendDescriptor_t d, int name, int type, int64_t n,
                          const void *elems, char *msg, size_t len) {
    SETCTX(t, ctx);
    return be_rc(t, F(t, cudnnBackendSetAttribute)(d, name, type, n, elems), msg, len);
}
repro_rc repro_dnn_be_get(repro_tbl *t, CUcontext ctx, cudnnBackendDescriptor_t d, int name, int type, int64_t req,
                          int64_t *n, void *elems, char *msg, size_t len) {
    SETCTX(t, ctx);
    return be_rc(t, F(t, cudnnBackendGetAttribute)(d, name, type, req, n, elems), msg, len);
}
/* repro_dnn_be_execute runs an execution plan on n tensors (unique id uids[i]
 * at device address ptrs[i]) with workspace ws. The variant pack that binds
 * them is made, used and destroyed here: one cgo call per convolution. */
repro_rc repro_dnn_be_execute(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnBackendDescriptor_t plan,
                              int64_t n, const int64_t *uids, const CUdeviceptr *ptrs, CUdeviceptr ws, char *msg,
                              size_t len) {
    void *p[BE_MAX_TENSORS];
    void *wsp = DP(ws);
    if (n < 1 || n > BE_MAX_TENSORS) return rc(2000); /* CUDNN_STATUS_BAD_PARAM in 9.x */
    for (int64_t i = 0; i < n; i++) p[i] = DP(ptrs[i]);
    SETCTX(t, ctx);
    cudnnBackendDescriptor_t pack = NULL;
    int s = F(t, cudnnBackendCreateDescriptor)(BE_VARIANT_PACK_DESCRIPTOR, &pack);
    if (s != 0) return be_rc(t, s, msg, len);
    if (s == 0) s = F(t, cudnnBackendSetAttribute)(pack, BE_ATTR_VARIANT_PACK_UNIQUE_IDS, BE_TYPE_INT64, n, uids);
    if (s == 0) s = F(t, cudnnBackendSetAttribute)(pack, BE_ATTR_VARIANT_PACK_DATA_POINTERS, BE_TYPE_VOID_PTR, n, p);
    if (s == 0) s = F(t, cudnnBackendSetAttribute)(pack, BE_ATTR_VARIANT_PACK_WORKSPACE, BE_TYPE_VOID_PTR, 1, &wsp);
    if (s == 0) s = F(t, cudnnBackendFinalize)(pack);
    if (s == 0) s = F(t, cudnnBackendExecute)(h, plan, pack);
    repro_rc r = be_rc(t, s, msg, len); /* before the destroy can clear the message */
    int d = F(t, cudnnBackendDestroyDescriptor)(pack);
    return s != 0 ? r : be_rc(t, d, msg, len);
}
