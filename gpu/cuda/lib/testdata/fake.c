//go:build cuda

/*
 * Fake CUDA driver, cuBLAS and cuDNN for the tests of package lib (which run
 * without a GPU and without CUDA). The test compiles this file with gcc into
 * libcuda.so.1 (-DFAKE_DRIVER), libcublas.so.12 (-DFAKE_BLAS, linked against
 * a fake libcublasLt.so.12, -DFAKE_BLASLT), libcudnn.so.9 (-DFAKE_DNN) and
 * cuDNN sub-libraries (-DFAKE_SUBLIB). Every function has the signature of
 * the real one (see ../shim.h for the sources) and records its arguments as
 * text in fake_log; cuDeviceGetName on ordinal 7 returns that text, which is
 * how the Go tests read it back. Ordinal 1's primary context is one that
 * cuCtxSetCurrent refuses. The current context is per thread and every call
 * that needs one clears it, so a wrapper that does not set the context in
 * the same C call as its library call fails.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;

#define LOGSIZE 4096

#ifdef FAKE_DRIVER

char fake_log[LOGSIZE];
static __thread CUcontext current;

void fake_logf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fake_log, LOGSIZE, fmt, ap);
    va_end(ap);
}

void fake_appendf(const char *fmt, ...) {
    size_t n = strlen(fake_log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fake_log + n, LOGSIZE - n, fmt, ap);
    va_end(ap);
}

/* fake_take_ctx returns this thread's current context and clears it. */
CUcontext fake_take_ctx(void) {
    CUcontext c = current;
    current = NULL;
    return c;
}

#define NEED_CTX(c)                       \
    CUcontext c = fake_take_ctx();        \
    if (c == NULL) return 201; /* CUDA_ERROR_INVALID_CONTEXT */

CUresult cuGetErrorName(CUresult e, const char **p) {
    switch (e) {
    case 0: *p = "CUDA_SUCCESS"; return 0;
    case 2: *p = "CUDA_ERROR_OUT_OF_MEMORY"; return 0;
    case 101: *p = "CUDA_ERROR_INVALID_DEVICE"; return 0;
    case 201: *p = "CUDA_ERROR_INVALID_CONTEXT"; return 0;
    case 218: *p = "CUDA_ERROR_INVALID_PTX"; return 0;
    case 500: *p = "CUDA_ERROR_NOT_FOUND"; return 0;
    }
    return 1;
}

CUresult cuGetErrorString(CUresult e, const char **p) {
    switch (e) {
    case 0: *p = "no error"; return 0;
    case 2: *p = "out of memory"; return 0;
    case 101: *p = "invalid device ordinal"; return 0;
    case 201: *p = "invalid device context"; return 0;
    case 218: *p = "a PTX JIT compilation failed"; return 0;
    case 500: *p = "named symbol not found"; return 0;
    }
    return 1;
}

CUresult cuInit(unsigned int flags) { fake_logf("cuInit flags=%u", flags); return 0; }
CUresult cuDriverGetVersion(int *v) { *v = 12040; return 0; }
CUresult cuDeviceGetCount(int *n) { *n = 2; return 0; }
CUresult cuDeviceGet(CUdevice *d, int ordinal) {
    if (ordinal < 0 || ordinal > 7) return 101;
    *d = 100 + ordinal;
    return 0;
}
CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
    if (dev == 107) {
        snprintf(name, len, "%s", fake_log);
        fake_log[0] = 0;
    } else {
        snprintf(name, len, "Fake GPU %d", dev - 100);
    }
    return 0;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) { *bytes = (size_t)(dev - 99) << 30; return 0; }
CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice dev) {
    *c = (CUcontext)(uintptr_t)(dev == 101 ? 0xbad : 0xc000 + dev);
    fake_logf("cuDevicePrimaryCtxRetain dev=%d", dev);
    return 0;
}
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) { fake_logf("cuDevicePrimaryCtxRelease_v2 dev=%d", dev); return 0; }
CUresult cuCtxSetCurrent(CUcontext c) {
    if ((uintptr_t)c == 0xbad) return 201;
    current = c;
    return 0;
}
CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
    NEED_CTX(c);
    if (bytes > ((size_t)1 << 40)) return 2;
    *p = 0x10000000ull + bytes;
    fake_logf("cuMemAlloc_v2 bytes=%zu ctx=%p", bytes, (void *)c);
    return 0;
}
CUresult cuMemFree_v2(CUdeviceptr p) { NEED_CTX(c); fake_logf("cuMemFree_v2 p=0x%llx ctx=%p", p, (void *)c); return 0; }
CUresult cuMemGetInfo_v2(size_t *f, size_t *t) {
    NEED_CTX(c);
    *f = (size_t)3 << 30;
    *t = (size_t)16 << 30;
    return 0;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s) {
    NEED_CTX(c);
    const unsigned char *b = src;
    fake_logf("cuMemcpyHtoDAsync_v2 dst=0x%llx n=%zu s=%p first=%u last=%u ctx=%p", dst, n, (void *)s, b[0], b[n - 1],
              (void *)c);
    return 0;
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s) {
    NEED_CTX(c);
    unsigned char *b = dst;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(src + i);
    fake_logf("cuMemcpyDtoHAsync_v2 src=0x%llx n=%zu s=%p ctx=%p", src, n, (void *)s, (void *)c);
    return 0;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    NEED_CTX(c);
    fake_logf("cuMemcpyDtoDAsync_v2 dst=0x%llx src=0x%llx n=%zu s=%p ctx=%p", dst, src, n, (void *)s, (void *)c);
    return 0;
}
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int v, size_t n, CUstream s) {
    NEED_CTX(c);
    fake_logf("cuMemsetD32Async dst=0x%llx v=0x%x n=%zu s=%p ctx=%p", dst, v, n, (void *)s, (void *)c);
    return 0;
}
CUresult cuStreamCreate(CUstream *s, unsigned int flags) {
    NEED_CTX(c);
    *s = (CUstream)(uintptr_t)(0x5000 + flags);
    fake_logf("cuStreamCreate flags=%u ctx=%p", flags, (void *)c);
    return 0;
}
CUresult cuStreamDestroy_v2(CUstream s) { NEED_CTX(c); fake_logf("cuStreamDestroy_v2 s=%p", (void *)s); return 0; }
CUresult cuStreamSynchronize(CUstream s) { NEED_CTX(c); fake_logf("cuStreamSynchronize s=%p", (void *)s); return 0; }

CUresult cuModuleLoadDataEx(CUmodule *m, const void *image, unsigned int n, int *opts, void **vals) {
    NEED_CTX(c);
    char *log = NULL;
    unsigned int size = 0;
    for (unsigned int i = 0; i < n; i++) {
        if (opts[i] == 5) log = vals[i];                                      /* CU_JIT_ERROR_LOG_BUFFER */
        if (opts[i] == 6) size = (unsigned int)(uintptr_t)vals[i];             /* ..._SIZE_BYTES */
    }
    if (strstr(image, "bad") != NULL) {
        if (log != NULL && size > 0) snprintf(log, size, "ptxas fatal   : Unresolved extern function 'f'\nline two\n");
        for (unsigned int i = 0; i < n; i++)
            if (opts[i] == 6) vals[i] = (void *)(uintptr_t)strlen(log);
        return 218;
    }
    *m = (CUmodule)(uintptr_t)0x6000;
    fake_logf("cuModuleLoadDataEx n=%u logsize=%u len=%zu ctx=%p", n, size, strlen(image), (void *)c);
    return 0;
}
CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
    NEED_CTX(c);
    int nargs;
    if (sscanf(name, "k%d", &nargs) != 1) return 500;
    *f = (CUfunction)(uintptr_t)(0x7000 + nargs);
    return 0;
}
CUresult cuModuleUnload(CUmodule m) { NEED_CTX(c); fake_logf("cuModuleUnload m=%p", (void *)m); return 0; }
CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                        unsigned int by, unsigned int bz, unsigned int shared, CUstream s, void **params,
                        void **extra) {
    NEED_CTX(c);
    int n = (int)((uintptr_t)f - 0x7000);
    fake_logf("cuLaunchKernel grid=%u,%u,%u block=%u,%u,%u smem=%u s=%p ctx=%p extra=%p args=", gx, gy, gz, bx, by, bz,
              shared, (void *)s, (void *)c, (void *)extra);
    if (params == NULL) {
        fake_appendf("NULL");
        return 0;
    }
    for (int i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, params[i], 8);
        fake_appendf("%s%016llx", i ? "," : "", (unsigned long long)v);
    }
    return 0;
}
CUresult cuStreamBeginCapture_v2(CUstream s, int mode) {
    NEED_CTX(c);
    fake_logf("cuStreamBeginCapture_v2 s=%p mode=%d", (void *)s, mode);
    return 0;
}
CUresult cuStreamEndCapture(CUstream s, CUgraph *g) {
    NEED_CTX(c);
    *g = (CUgraph)(uintptr_t)0x8000;
    fake_logf("cuStreamEndCapture s=%p", (void *)s);
    return 0;
}
CUresult cuGraphInstantiateWithFlags(CUgraphExec *e, CUgraph g, unsigned long long flags) {
    NEED_CTX(c);
    *e = (CUgraphExec)(uintptr_t)0x9000;
    fake_logf("cuGraphInstantiateWithFlags g=%p flags=%llu", (void *)g, flags);
    return 0;
}
CUresult cuGraphLaunch(CUgraphExec e, CUstream s) {
    NEED_CTX(c);
    fake_logf("cuGraphLaunch e=%p s=%p", (void *)e, (void *)s);
    return 0;
}
CUresult cuGraphExecDestroy(CUgraphExec e) { NEED_CTX(c); fake_logf("cuGraphExecDestroy e=%p", (void *)e); return 0; }
CUresult cuGraphDestroy(CUgraph g) { NEED_CTX(c); fake_logf("cuGraphDestroy g=%p", (void *)g); return 0; }

#endif /* FAKE_DRIVER */

#if defined(FAKE_BLAS) || defined(FAKE_DNN)
/* Provided by the fake driver, which the test loads first with RTLD_GLOBAL. */
extern char fake_log[];
void fake_logf(const char *fmt, ...);
CUcontext fake_take_ctx(void);
#define NEED_CTX(c)                \
    CUcontext c = fake_take_ctx(); \
    if (c == NULL) return 99;
#endif

#ifdef FAKE_BLASLT
int fake_lt_version(void) { return 120405; }
#endif

#ifdef FAKE_BLAS
typedef struct cublasContext *cublasHandle_t;
int fake_lt_version(void); /* from the fake libcublasLt.so.12 this one is linked against */

int cublasCreate_v2(cublasHandle_t *h) {
    NEED_CTX(c);
    *h = (cublasHandle_t)(uintptr_t)0xb000;
    fake_logf("cublasCreate_v2 ctx=%p lt=%d", (void *)c, fake_lt_version());
    return 0;
}
int cublasDestroy_v2(cublasHandle_t h) { NEED_CTX(c); fake_logf("cublasDestroy_v2 h=%p", (void *)h); return 0; }
int cublasSetStream_v2(cublasHandle_t h, CUstream s) {
    NEED_CTX(c);
    fake_logf("cublasSetStream_v2 h=%p s=%p", (void *)h, (void *)s);
    return 0;
}
int cublasGetVersion_v2(cublasHandle_t h, int *v) { NEED_CTX(c); *v = 120405; return 0; }
int cublasSetMathMode(cublasHandle_t h, int mode) { NEED_CTX(c); fake_logf("cublasSetMathMode mode=%d", mode); return 0; }
int cublasSgemm_v2(cublasHandle_t h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A, int lda,
                   const float *B, int ldb, const float *beta, float *C, int ldc) {
    NEED_CTX(c);
    if (m < 0) return 7;
    fake_logf("cublasSgemm_v2 h=%p ta=%d tb=%d m=%d n=%d k=%d alpha=%g A=%p lda=%d B=%p ldb=%d beta=%g C=%p ldc=%d ctx=%p",
              (void *)h, ta, tb, m, n, k, *alpha, (const void *)A, lda, (const void *)B, ldb, *beta, (void *)C, ldc,
              (void *)c);
    return 0;
}
#ifndef NO_STATUS_STRING
const char *cublasGetStatusName(int s) { return s == 7 ? "FAKE_CUBLAS_STATUS_INVALID_VALUE" : "FAKE_OTHER"; }
const char *cublasGetStatusString(int s) { return s == 7 ? "an invalid value was used as an argument" : "other"; }
int cublasGetProperty(int type, int *v) {
    static const int ver[3] = {12, 4, 5};
    if (type < 0 || type > 2) return 7;
    *v = ver[type];
    return 0;
}
#endif
#endif /* FAKE_BLAS */

#ifdef FAKE_SUBLIB
/* A cuDNN sub-library: -DSUBLIB_DEP makes it call into another one. */
#ifdef SUBLIB_DEP
int SUBLIB_DEP(void);
int SUBLIB_NAME(void) { return SUBLIB_DEP() + 1; }
#else
int SUBLIB_NAME(void) { return 1; }
#endif
#endif

#ifdef FAKE_DNN
typedef struct cudnnContext *cudnnHandle_t;
typedef void *desc_t;
typedef struct {
    int algo;
    int status;
    float time;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
} perf_t; /* cudnnConvolutionFwdAlgoPerf_t */

static int ndesc;
static desc_t newdesc(int base) { return (desc_t)(uintptr_t)(base + ++ndesc); }

size_t cudnnGetVersion(void) { return 90100; }
const char *cudnnGetErrorString(int s) {
    switch (s) {
    case 0: return "CUDNN_STATUS_SUCCESS";
    case 2000: return "CUDNN_STATUS_BAD_PARAM";
    case 3000: return "CUDNN_STATUS_NOT_SUPPORTED";
    }
    return "CUDNN_STATUS_UNKNOWN";
}
int cudnnCreate(cudnnHandle_t *h) { NEED_CTX(c); *h = (cudnnHandle_t)(uintptr_t)0xd000; return 0; }
int cudnnDestroy(cudnnHandle_t h) { NEED_CTX(c); fake_logf("cudnnDestroy h=%p", (void *)h); return 0; }
int cudnnSetStream(cudnnHandle_t h, CUstream s) {
    NEED_CTX(c);
    fake_logf("cudnnSetStream h=%p s=%p ctx=%p", (void *)h, (void *)s, (void *)c);
    return 0;
}
int cudnnCreateTensorDescriptor(desc_t *d) { *d = newdesc(0xe000); return 0; }
int cudnnDestroyTensorDescriptor(desc_t d) { fake_logf("cudnnDestroyTensorDescriptor %p", d); return 0; }
int cudnnSetTensor4dDescriptorEx(desc_t d, int dt, int n, int c, int h, int w, int ns, int cs, int hs, int ws) {
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0) return 2000;
    fake_logf("cudnnSetTensor4dDescriptorEx %p dt=%d n=%d c=%d h=%d w=%d strides=%d,%d,%d,%d", d, dt, n, c, h, w, ns,
              cs, hs, ws);
    return 0;
}
int cudnnCreateFilterDescriptor(desc_t *d) { *d = newdesc(0xf000); return 0; }
int cudnnDestroyFilterDescriptor(desc_t d) { fake_logf("cudnnDestroyFilterDescriptor %p", d); return 0; }
int cudnnSetFilter4dDescriptor(desc_t d, int dt, int format, int k, int c, int h, int w) {
    fake_logf("cudnnSetFilter4dDescriptor %p dt=%d format=%d k=%d c=%d h=%d w=%d", d, dt, format, k, c, h, w);
    return 0;
}
int cudnnCreateConvolutionDescriptor(desc_t *d) { *d = newdesc(0xa000); return 0; }
int cudnnDestroyConvolutionDescriptor(desc_t d) { fake_logf("cudnnDestroyConvolutionDescriptor %p", d); return 0; }
int cudnnSetConvolution2dDescriptor(desc_t d, int ph, int pw, int u, int v, int dh, int dw, int mode, int compute) {
    fake_logf("cudnnSetConvolution2dDescriptor %p pad=%d,%d stride=%d,%d dilation=%d,%d mode=%d compute=%d", d, ph, pw,
              u, v, dh, dw, mode, compute);
    return 0;
}
int cudnnSetConvolutionMathType(desc_t d, int m) { fake_logf("cudnnSetConvolutionMathType %p m=%d", d, m); return 0; }
int cudnnDeriveBNTensorDescriptor(desc_t dst, desc_t x, int mode) {
    fake_logf("cudnnDeriveBNTensorDescriptor dst=%p x=%p mode=%d", dst, x, mode);
    return 0;
}

static int fill(int req, int *ret, perf_t *p) {
    perf_t a = {1, 0, 0.25f, 4096, 1, 3, {0, 0, 0}};
    perf_t b = {6, 3000, -1.0f, (size_t)1 << 33, 0, 0, {0, 0, 0}};
    if (req < 2) return 2000;
    p[0] = a;
    p[1] = b;
    *ret = 2;
    return 0;
}
int cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t h, desc_t xd, const void *x, desc_t wd, const void *w,
                                           desc_t cd, desc_t yd, void *y, int req, int *ret, perf_t *p, void *ws,
                                           size_t wsb) {
    NEED_CTX(c);
    fake_logf("fwd h=%p x=%p:%p w=%p:%p conv=%p y=%p:%p req=%d ws=%p:%zu", (void *)h, xd, x, wd, w, cd, yd, y, req, ws,
              wsb);
    return fill(req, ret, p);
}
int cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t h, desc_t wd, const void *w, desc_t dyd, const void *dy,
                                                desc_t cd, desc_t dxd, void *dx, int req, int *ret, perf_t *p,
                                                void *ws, size_t wsb) {
    NEED_CTX(c);
    fake_logf("bwd_data h=%p w=%p:%p dy=%p:%p conv=%p dx=%p:%p req=%d ws=%p:%zu", (void *)h, wd, w, dyd, dy, cd, dxd,
              dx, req, ws, wsb);
    return fill(req, ret, p);
}
int cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t h, desc_t xd, const void *x, desc_t dyd,
                                                  const void *dy, desc_t cd, desc_t dwd, void *dw, int req, int *ret,
                                                  perf_t *p, void *ws, size_t wsb) {
    NEED_CTX(c);
    fake_logf("bwd_filter h=%p x=%p:%p dy=%p:%p conv=%p dw=%p:%p req=%d ws=%p:%zu", (void *)h, xd, x, dyd, dy, cd, dwd,
              dw, req, ws, wsb);
    return fill(req, ret, p);
}
int cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h, desc_t xd, desc_t wd, desc_t cd, desc_t yd, int algo,
                                            size_t *b) {
    NEED_CTX(c);
    fake_logf("ws_fwd x=%p w=%p conv=%p y=%p algo=%d", xd, wd, cd, yd, algo);
    *b = 1000 + algo;
    return 0;
}
int cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t h, desc_t wd, desc_t dyd, desc_t cd, desc_t dxd,
                                                 int algo, size_t *b) {
    NEED_CTX(c);
    fake_logf("ws_bwd_data w=%p dy=%p conv=%p dx=%p algo=%d", wd, dyd, cd, dxd, algo);
    *b = 2000 + algo;
    return 0;
}
int cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t h, desc_t xd, desc_t dyd, desc_t cd, desc_t dwd,
                                                   int algo, size_t *b) {
    NEED_CTX(c);
    fake_logf("ws_bwd_filter x=%p dy=%p conv=%p dw=%p algo=%d", xd, dyd, cd, dwd, algo);
    *b = 3000 + algo;
    return 0;
}
int cudnnConvolutionForward(cudnnHandle_t h, const void *alpha, desc_t xd, const void *x, desc_t wd, const void *w,
                            desc_t cd, int algo, void *ws, size_t wsb, const void *beta, desc_t yd, void *y) {
    NEED_CTX(c);
    fake_logf("conv_fwd alpha=%g x=%p:%p w=%p:%p conv=%p algo=%d ws=%p:%zu beta=%g y=%p:%p",
              *(const float *)alpha, xd, x, wd, w, cd, algo, ws, wsb, *(const float *)beta, yd, y);
    return 0;
}
int cudnnConvolutionBackwardData(cudnnHandle_t h, const void *alpha, desc_t wd, const void *w, desc_t dyd,
                                 const void *dy, desc_t cd, int algo, void *ws, size_t wsb, const void *beta,
                                 desc_t dxd, void *dx) {
    NEED_CTX(c);
    fake_logf("conv_bwd_data alpha=%g w=%p:%p dy=%p:%p conv=%p algo=%d ws=%p:%zu beta=%g dx=%p:%p",
              *(const float *)alpha, wd, w, dyd, dy, cd, algo, ws, wsb, *(const float *)beta, dxd, dx);
    return 0;
}
int cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void *alpha, desc_t xd, const void *x, desc_t dyd,
                                   const void *dy, desc_t cd, int algo, void *ws, size_t wsb, const void *beta,
                                   desc_t dwd, void *dw) {
    NEED_CTX(c);
    fake_logf("conv_bwd_filter alpha=%g x=%p:%p dy=%p:%p conv=%p algo=%d ws=%p:%zu beta=%g dw=%p:%p",
              *(const float *)alpha, xd, x, dyd, dy, cd, algo, ws, wsb, *(const float *)beta, dwd, dw);
    return 0;
}
int cudnnBatchNormalizationForwardTraining(cudnnHandle_t h, int mode, const void *alpha, const void *beta, desc_t xd,
                                           const void *x, desc_t yd, void *y, desc_t bnd, const void *scale,
                                           const void *bias, double factor, void *rmean, void *rvar, double eps,
                                           void *smean, void *sinv) {
    NEED_CTX(c);
    fake_logf("bn_train mode=%d alpha=%g beta=%g x=%p:%p y=%p:%p bn=%p scale=%p bias=%p factor=%g rmean=%p rvar=%p "
              "eps=%g smean=%p sinv=%p",
              mode, *(const float *)alpha, *(const float *)beta, xd, x, yd, y, bnd, scale, bias, factor, rmean, rvar,
              eps, smean, sinv);
    return 0;
}
int cudnnBatchNormalizationForwardInference(cudnnHandle_t h, int mode, const void *alpha, const void *beta, desc_t xd,
                                            const void *x, desc_t yd, void *y, desc_t bnd, const void *scale,
                                            const void *bias, const void *mean, const void *var, double eps) {
    NEED_CTX(c);
    fake_logf("bn_infer mode=%d alpha=%g beta=%g x=%p:%p y=%p:%p bn=%p scale=%p bias=%p mean=%p var=%p eps=%g", mode,
              *(const float *)alpha, *(const float *)beta, xd, x, yd, y, bnd, scale, bias, mean, var, eps);
    return 0;
}
int cudnnBatchNormalizationBackward(cudnnHandle_t h, int mode, const void *ad, const void *bd, const void *ap,
                                    const void *bp, desc_t xd, const void *x, desc_t dyd, const void *dy, desc_t dxd,
                                    void *dx, desc_t bnd, const void *scale, void *dscale, void *dbias, double eps,
                                    const void *smean, const void *sinv) {
    NEED_CTX(c);
    fake_logf("bn_bwd mode=%d ad=%g bd=%g ap=%g bp=%g x=%p:%p dy=%p:%p dx=%p:%p bn=%p scale=%p dscale=%p dbias=%p "
              "eps=%g smean=%p sinv=%p",
              mode, *(const float *)ad, *(const float *)bd, *(const float *)ap, *(const float *)bp, xd, x, dyd, dy,
              dxd, dx, bnd, scale, dscale, dbias, eps, smean, sinv);
    return 0;
}
#endif /* FAKE_DNN */

#ifdef FAKE_MIN
/* A "driver" that exports cuInit only. */
CUresult cuInit(unsigned int flags) { return 0; }
#endif
