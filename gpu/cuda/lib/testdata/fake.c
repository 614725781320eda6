//go:build cuda

/*
 * Fake CUDA driver, cuBLAS and cuDNN for the tests of package lib (which run
 * without a GPU and without CUDA). The test compiles this file with gcc into
 * libcuda.so.1 (-DFAKE_DRIVER), libcublas.so.12 (-DFAKE_BLAS, linked against
 * a fake libcublasLt.so.12, -DFAKE_BLASLT), libcudnn.so.9 (-DFAKE_DNN) and
 * cuDNN sub-libraries (-DFAKE_SUBLIB). Every function has the signature of
 * the real one (see ../shim.h for the sources) and records its arguments as
 * text in fake_log; cuDeviceGetName on ordinal 7 returns that text, which is
 * how the Go tests read it back, and on ordinal 6 the start of each of the
 * last HISTORY records, oldest first, one a line (then forgets them); on
 * ordinal 8 the whole of the last cudnnBackendExecute record and of the last
 * cuLaunchKernel record (with its arguments), a line each. With
 * FAKE_NUMBERED_STREAMS set, each stream created gets a handle of its own
 * (else all are 0x5000 + flags). Ordinal 1's primary context is one that
 * cuCtxSetCurrent refuses. The current context is per thread and every call
 * that needs one clears it, so a wrapper that does not set the context in
 * the same C call as its library call fails.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

#define HISTORY 12
static char fake_history[HISTORY][72];
static int fake_records; /* records since the history was last read */
static char fake_last_exec[LOGSIZE], fake_last_launch[LOGSIZE];

void fake_logf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fake_log, LOGSIZE, fmt, ap);
    va_end(ap);
    snprintf(fake_history[fake_records++ % HISTORY], sizeof fake_history[0], "%.71s", fake_log);
    if (strncmp(fake_log, "cudnnBackendExecute ", 20) == 0) snprintf(fake_last_exec, LOGSIZE, "%s", fake_log);
}

/* fake_read_history writes the kept records, oldest first, into out. */
static void fake_read_history(char *out, int len) {
    int n = fake_records < HISTORY ? fake_records : HISTORY, used = 0;
    out[0] = 0;
    for (int i = fake_records - n; i < fake_records && used < len; i++)
        used += snprintf(out + used, len - used, "%s\n", fake_history[i % HISTORY]);
    fake_records = 0;
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
    if (ordinal < 0 || ordinal > 8) return 101;
    *d = 100 + ordinal;
    return 0;
}
CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
    if (dev == 107) {
        snprintf(name, len, "%s", fake_log);
        fake_log[0] = 0;
    } else if (dev == 106) {
        fake_read_history(name, len);
    } else if (dev == 108) {
        snprintf(name, len, "%s\n%s", fake_last_exec, fake_last_launch);
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
static int nstreams;
CUresult cuStreamCreate(CUstream *s, unsigned int flags) {
    NEED_CTX(c);
    int k = getenv("FAKE_NUMBERED_STREAMS") != NULL ? nstreams++ : 0;
    *s = (CUstream)(uintptr_t)(0x5000 + flags + 0x100 * k);
    fake_logf("cuStreamCreate flags=%u ctx=%p", flags, (void *)c);
    return 0;
}
CUresult cuStreamDestroy_v2(CUstream s) { NEED_CTX(c); fake_logf("cuStreamDestroy_v2 s=%p", (void *)s); return 0; }
CUresult cuStreamSynchronize(CUstream s) { NEED_CTX(c); fake_logf("cuStreamSynchronize s=%p", (void *)s); return 0; }

static char *real_ptx; /* the last real PTX loaded */
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
    if (strstr(image, ".visible .entry ") != NULL) { /* real PTX (gpu/cuda's fake-library test): keep it */
        free(real_ptx);
        real_ptx = strdup(image);
        *m = (CUmodule)(uintptr_t)0x6100;
    }
    fake_logf("cuModuleLoadDataEx n=%u logsize=%u len=%zu ctx=%p", n, size, strlen(image), (void *)c);
    return 0;
}
/* Functions are k<N> (a kernel the fake reads N arguments of) or, in a real
 * PTX, the kernels it defines (as many arguments read as the entry has
 * .param lines, each read as 8 bytes: the Go side gives every argument a
 * slot of 8). */
CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
    NEED_CTX(c);
    int nargs;
    if ((uintptr_t)m == 0x6100) {
        char entry[256];
        snprintf(entry, sizeof entry, ".visible .entry %s(", name);
        const char *at = real_ptx == NULL ? NULL : strstr(real_ptx, entry);
        if (at == NULL) return 500;
        const char *end = strchr(at, ')');
        nargs = 0;
        for (const char *p = strstr(at, ".param"); p != NULL && p < end; p = strstr(p + 1, ".param")) nargs++;
        *f = (CUfunction)(uintptr_t)(0x7000 + nargs);
        return 0;
    }
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
    snprintf(fake_last_launch, LOGSIZE, "%s", fake_log);
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
typedef struct CUevent_st *CUevent;
static int nevents;
CUresult cuEventCreate(CUevent *e, unsigned int flags) {
    NEED_CTX(c);
    *e = (CUevent)(uintptr_t)(0x7000 + ++nevents);
    fake_logf("cuEventCreate flags=%u", flags);
    return 0;
}
CUresult cuEventRecord(CUevent e, CUstream s) {
    NEED_CTX(c);
    fake_logf("cuEventRecord e=%p s=%p", (void *)e, (void *)s);
    return 0;
}
CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned int flags) {
    NEED_CTX(c);
    fake_logf("cuStreamWaitEvent s=%p e=%p flags=%u", (void *)s, (void *)e, flags);
    return 0;
}
CUresult cuEventSynchronize(CUevent e) {
    NEED_CTX(c);
    fake_logf("cuEventSynchronize e=%p", (void *)e);
    return 0;
}
/* no context needed: it follows cuEventSynchronize in one C call */
CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) {
    fake_logf("cuEventElapsedTime a=%p b=%p", (void *)a, (void *)b);
    *ms = 0.25f * (float)((uintptr_t)b - (uintptr_t)a);
    return 0;
}
CUresult cuEventElapsedTime_v2(float *ms, CUevent a, CUevent b) {
    fake_logf("cuEventElapsedTime_v2 a=%p b=%p", (void *)a, (void *)b);
    *ms = 0.25f * (float)((uintptr_t)b - (uintptr_t)a);
    return 0;
}
CUresult cuEventDestroy_v2(CUevent e) {
    NEED_CTX(c);
    fake_logf("cuEventDestroy_v2 e=%p", (void *)e);
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
static int be_live; /* backend descriptors not yet destroyed */
static desc_t newdesc(int base) { return (desc_t)(uintptr_t)(base + ++ndesc); }

size_t cudnnGetVersion(void) { return 90100; }
const char *cudnnGetErrorString(int s) {
    switch (s) {
    case 0: return "CUDNN_STATUS_SUCCESS";
    case 2000: return "CUDNN_STATUS_BAD_PARAM";
    case 3000: return "CUDNN_STATUS_NOT_SUPPORTED";
    case 77777: {
        static char live[32];
        snprintf(live, sizeof live, "live=%d", be_live);
        return live;
    }
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

#ifndef NO_BACKEND /* -DNO_BACKEND: a cuDNN 7 without the backend API */
/* ---- backend API ([cudnn 9.6] cudnn_graph.h) ----
 * A small model of cuDNN's descriptors that checks what the real library
 * documents: each attribute belongs to one descriptor type and has one
 * attribute type; descriptors passed as attributes must be finalized and of
 * the documented type; a finalized descriptor takes no more attributes;
 * finalize needs the required attributes and, for a convolution, tensors
 * whose sizes agree. The heuristics offer engines 0-2 (mode A) and 1, 3, 4
 * (fallback): 0 has the tensor-core note, 2 the nondeterministic one, 3 fails
 * to finalize its plan, 4 compiles at run time; with FAKE_ENGINES_FAIL set,
 * no plan finalizes (a backend API with no engine for any graph, which the
 * backend must survive on cudnnFind's algorithms); with FAKE_BETA_REFUSED
 * set, the heuristics refuse a graph whose operation has beta != 0 (engines
 * that cannot add to their output). cudnnGetErrorString(77777)
 * returns "live=N", the number of descriptors not yet destroyed. */
enum { T_HANDLE = 0, T_DATA_TYPE = 1, T_INT64 = 3, T_FLOAT = 4, T_VOID_PTR = 6, T_CONV_MODE = 7, T_HEUR_MODE = 8,
       T_NUM_NOTE = 11, T_DESC = 15, T_BEHAVIOR = 19 };
enum { D_CONV = 1, D_ENGINE = 2, D_CFG = 3, D_HEUR = 4, D_PLAN = 5, D_OP_FWD = 10, D_OP_BWD_FILTER = 11,
       D_OP_BWD_DATA = 12, D_GRAPH = 15, D_PACK = 16, D_TENSOR = 17 };
#define BE_MAGIC 0x6265646e
#define BE_MAX_ATTR 16
typedef struct {
    int name, type;
    int64_t n;
    int64_t v[8]; /* elements widened: ints, floats (bits), pointers */
} be_attr;
typedef struct be_desc {
    int magic, type, finalized, nattr;
    int64_t engine; /* engine configs and engines: which fake engine */
    be_attr attr[BE_MAX_ATTR];
} be_desc;
static char be_err[256];

/* attribute name -> descriptor type, attribute type, descriptor type of its
 * elements (for T_DESC), most elements */
static const struct { int name, owner, type, elem, max; } be_table[] = {
    {100, D_CONV, T_DATA_TYPE, 0, 1},  {101, D_CONV, T_CONV_MODE, 0, 1}, {102, D_CONV, T_INT64, 0, 8},
    {103, D_CONV, T_INT64, 0, 8},      {104, D_CONV, T_INT64, 0, 8},     {105, D_CONV, T_INT64, 0, 8},
    {106, D_CONV, T_INT64, 0, 1},      {200, D_HEUR, T_HEUR_MODE, 0, 1}, {201, D_HEUR, T_DESC, D_GRAPH, 1},
    {400, D_PLAN, T_HANDLE, 0, 1},     {401, D_PLAN, T_DESC, D_CFG, 1},
    {700, D_OP_FWD, T_FLOAT, 0, 1},    {701, D_OP_FWD, T_FLOAT, 0, 1},   {702, D_OP_FWD, T_DESC, D_CONV, 1},
    {703, D_OP_FWD, T_DESC, D_TENSOR, 1}, {704, D_OP_FWD, T_DESC, D_TENSOR, 1}, {705, D_OP_FWD, T_DESC, D_TENSOR, 1},
    {706, D_OP_BWD_DATA, T_FLOAT, 0, 1}, {707, D_OP_BWD_DATA, T_FLOAT, 0, 1}, {708, D_OP_BWD_DATA, T_DESC, D_CONV, 1},
    {709, D_OP_BWD_DATA, T_DESC, D_TENSOR, 1}, {710, D_OP_BWD_DATA, T_DESC, D_TENSOR, 1},
    {711, D_OP_BWD_DATA, T_DESC, D_TENSOR, 1}, {712, D_OP_BWD_FILTER, T_FLOAT, 0, 1},
    {713, D_OP_BWD_FILTER, T_FLOAT, 0, 1}, {714, D_OP_BWD_FILTER, T_DESC, D_CONV, 1},
    {715, D_OP_BWD_FILTER, T_DESC, D_TENSOR, 1}, {716, D_OP_BWD_FILTER, T_DESC, D_TENSOR, 1},
    {717, D_OP_BWD_FILTER, T_DESC, D_TENSOR, 1},
    {800, D_GRAPH, T_HANDLE, 0, 1},    {801, D_GRAPH, T_DESC, -1, 8},
    {900, D_TENSOR, T_INT64, 0, 1},    {901, D_TENSOR, T_DATA_TYPE, 0, 1}, {902, D_TENSOR, T_INT64, 0, 8},
    {903, D_TENSOR, T_INT64, 0, 8},    {906, D_TENSOR, T_INT64, 0, 1},
    {1000, D_PACK, T_INT64, 0, 8},     {1001, D_PACK, T_VOID_PTR, 0, 8}, {1003, D_PACK, T_VOID_PTR, 0, 1},
};
static int be_fail(int code, const char *msg) {
    snprintf(be_err, sizeof be_err, "%s", msg);
    return code;
}
static be_desc *be_check(void *p) {
    be_desc *d = p;
    return d != NULL && d->magic == BE_MAGIC ? d : NULL;
}
static be_attr *be_find(be_desc *d, int name) {
    for (int i = 0; i < d->nattr; i++)
        if (d->attr[i].name == name) return &d->attr[i];
    return NULL;
}
void cudnnGetLastErrorString(char *msg, size_t max) {
    snprintf(msg, max, "%s", be_err);
    be_err[0] = 0;
}
int cudnnBackendCreateDescriptor(int type, void **out) {
    be_desc *d = calloc(1, sizeof *d);
    d->magic = BE_MAGIC;
    d->type = type;
    be_live++;
    *out = d;
    return 0;
}
int cudnnBackendDestroyDescriptor(void *p) {
    be_desc *d = be_check(p);
    if (d == NULL) return be_fail(2000, "destroy: not a descriptor");
    d->magic = 0;
    free(d);
    be_live--;
    return 0;
}
static int elem_size(int type) { return type == T_INT64 || type == T_HANDLE || type == T_VOID_PTR || type == T_DESC ? 8 : 4; }
int cudnnBackendSetAttribute(void *p, int name, int type, int64_t n, const void *elems) {
    be_desc *d = be_check(p);
    if (d == NULL) return be_fail(2000, "set: not a descriptor");
    if (d->finalized) return be_fail(2000, "set: descriptor already finalized");
    for (size_t i = 0; i < sizeof be_table / sizeof be_table[0]; i++) {
        if (be_table[i].name != name) continue;
        if (be_table[i].owner != d->type) return be_fail(2000, "set: attribute of another descriptor type");
        if (be_table[i].type != type) return be_fail(2010, "set: wrong attribute type");
        if (n < 1 || n > be_table[i].max) return be_fail(2000, "set: element count");
        if (d->nattr == BE_MAX_ATTR || be_find(d, name)) return be_fail(2000, "set: attribute set twice");
        be_attr *a = &d->attr[d->nattr++];
        a->name = name;
        a->type = type;
        a->n = n;
        for (int64_t k = 0; k < n; k++) {
            if (elem_size(type) == 8) {
                memcpy(&a->v[k], (const char *)elems + 8 * k, 8);
            } else {
                int32_t x;
                memcpy(&x, (const char *)elems + 4 * k, 4);
                a->v[k] = x;
            }
            if (type == T_DESC) {
                be_desc *e = be_check((void *)(uintptr_t)a->v[k]);
                if (e == NULL || !e->finalized) return be_fail(2004, "set: descriptor not finalized");
                if (be_table[i].elem >= 0 && e->type != be_table[i].elem) return be_fail(2012, "set: descriptor type");
            }
        }
        return 0;
    }
    return be_fail(2000, "set: unknown attribute");
}
static int need(be_desc *d, const int *names, int n) {
    for (int i = 0; i < n; i++)
        if (be_find(d, names[i]) == NULL) return be_fail(2000, "finalize: a required attribute is missing");
    return 0;
}
static be_desc *attr_desc(be_desc *d, int name) { return be_check((void *)(uintptr_t)be_find(d, name)->v[0]); }
/* a convolution operation: sizes agree (y = conv(x, w) with the conv's pad and stride) */
static int check_conv(be_desc *op, int base) {
    static int names[6];
    for (int i = 0; i < 6; i++) names[i] = base + i;
    if (need(op, names, 6)) return 2000;
    be_desc *conv = attr_desc(op, base + 2), *w = attr_desc(op, base + 3), *x = attr_desc(op, base + 4),
            *y = attr_desc(op, base + 5);
    int64_t *xd = be_find(x, 902)->v, *wd = be_find(w, 902)->v, *yd = be_find(y, 902)->v;
    int64_t pad = be_find(conv, 105)->v[0], stride = be_find(conv, 103)->v[0];
    if (xd[0] != yd[0] || xd[1] != wd[1] || yd[1] != wd[0] || yd[2] != (xd[2] + 2 * pad - wd[2]) / stride + 1 ||
        yd[3] != (xd[3] + 2 * pad - wd[3]) / stride + 1)
        return be_fail(3002, "finalize: tensor sizes do not agree with the convolution");
    return 0;
}
int cudnnBackendFinalize(void *p) {
    be_desc *d = be_check(p);
    if (d == NULL) return be_fail(2000, "finalize: not a descriptor");
    if (d->finalized) return be_fail(2000, "finalize: twice");
    int s = 0;
    switch (d->type) {
    case D_TENSOR: {
        static const int names[] = {901, 902, 903, 906, 900};
        s = need(d, names, 5);
        if (s == 0 && be_find(d, 902)->n != be_find(d, 903)->n) s = be_fail(2000, "finalize: dims and strides differ in rank");
        break;
    }
    case D_CONV: {
        static const int names[] = {100, 101, 102, 103, 104, 105, 106};
        s = need(d, names, 7);
        break;
    }
    case D_OP_FWD: s = check_conv(d, 700); break;
    case D_OP_BWD_DATA: s = check_conv(d, 706); break;
    case D_OP_BWD_FILTER: s = check_conv(d, 712); break;
    case D_GRAPH: {
        static const int names[] = {800, 801};
        s = need(d, names, 2);
        break;
    }
    case D_HEUR: {
        static const int names[] = {200, 201};
        s = need(d, names, 2);
        if (s == 0 && getenv("FAKE_BETA_REFUSED") != NULL) {
            be_attr *ops = be_find(attr_desc(d, 201), 801);
            for (int64_t k = 0; s == 0 && k < ops->n; k++) {
                be_desc *op = be_check((void *)(uintptr_t)ops->v[k]);
                int base = op->type == D_OP_FWD ? 700 : op->type == D_OP_BWD_DATA ? 706 : 712;
                be_attr *beta = be_find(op, base + 1);
                if (beta != NULL && beta->v[0] != 0) s = be_fail(3000, "FAKE_BETA_REFUSED: no engine takes beta != 0");
            }
        }
        break;
    }
    case D_PLAN: {
        static const int names[] = {400, 401};
        NEED_CTX(c);
        s = need(d, names, 2);
        if (s == 0 && attr_desc(d, 401)->engine == 3) s = be_fail(3000, "fake engine 3 does not support this graph");
        if (s == 0 && getenv("FAKE_ENGINES_FAIL") != NULL) s = be_fail(3000, "FAKE_ENGINES_FAIL: no engine supports this graph");
        if (s == 0) d->engine = attr_desc(d, 401)->engine;
        break;
    }
    case D_PACK: {
        static const int names[] = {1000, 1001, 1003};
        s = need(d, names, 3);
        if (s == 0 && be_find(d, 1000)->n != be_find(d, 1001)->n) s = be_fail(2000, "finalize: uids and pointers differ");
        break;
    }
    default: s = be_fail(3000, "finalize: descriptor type not modelled");
    }
    if (s == 0) d->finalized = 1;
    return s;
}
int cudnnBackendGetAttribute(void *p, int name, int type, int64_t req, int64_t *n, void *out) {
    be_desc *d = be_check(p);
    if (d == NULL || !d->finalized) return be_fail(2004, "get: not a finalized descriptor");
    if (d->type == D_HEUR && name == 202 && type == T_DESC) {
        static const int64_t a[] = {0, 1, 2}, fb[] = {1, 3, 4};
        int mode = (int)be_find(d, 200)->v[0];
        const int64_t *eng = mode == 2 ? fb : a;
        *n = 3;
        for (int64_t i = 0; i < req && i < 3; i++) {
            be_desc *c = be_check(((void **)out)[i]);
            if (c == NULL || c->type != D_CFG) return be_fail(2012, "get: results need engine config descriptors");
            c->engine = eng[i];
            c->finalized = 1;
        }
        if (req > 0 && req < 3) *n = req;
        return 0;
    }
    if (d->type == D_CFG && name == 300 && type == T_DESC && req == 1) {
        be_desc *e = be_check(((void **)out)[0]);
        if (e == NULL || e->type != D_ENGINE) return be_fail(2012, "get: need an engine descriptor");
        e->engine = d->engine;
        e->finalized = 1;
        *n = 1;
        return 0;
    }
    if (d->type == D_ENGINE && name == 1301 && type == T_INT64 && req >= 1) {
        *(int64_t *)out = d->engine;
        *n = 1;
        return 0;
    }
    if (d->type == D_ENGINE && (name == 1303 || name == 1305)) {
        if (type != (name == 1303 ? T_NUM_NOTE : T_BEHAVIOR)) return be_fail(2010, "get: wrong note type");
        int note = -1;
        if (name == 1303 && d->engine == 0) note = 0; /* CUDNN_NUMERICAL_NOTE_TENSOR_CORE */
        if (name == 1303 && d->engine == 2) note = 4; /* CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC */
        if (name == 1305 && d->engine == 4) note = 0; /* CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION */
        *n = 0;
        if (note >= 0 && req >= 1) {
            ((int *)out)[0] = note;
            *n = 1;
        }
        return 0;
    }
    if (d->type == D_PLAN && name == 402 && type == T_INT64 && req >= 1) {
        *(int64_t *)out = 1000 * (d->engine + 1);
        *n = 1;
        return 0;
    }
    return be_fail(2000, "get: attribute not modelled");
}
int cudnnBackendExecute(cudnnHandle_t h, void *plan, void *pack) {
    NEED_CTX(c);
    be_desc *pl = be_check(plan), *pk = be_check(pack);
    if (pl == NULL || pl->type != D_PLAN || !pl->finalized) return be_fail(2004, "execute: plan");
    if (pk == NULL || pk->type != D_PACK || !pk->finalized) return be_fail(2004, "execute: variant pack");
    be_attr *u = be_find(pk, 1000), *ptr = be_find(pk, 1001);
    fake_logf("cudnnBackendExecute h=%p engine=%lld uids=%lld,%lld,%lld ptrs=%#llx,%#llx,%#llx ws=%#llx ctx=%p",
              (void *)h, (long long)pl->engine, (long long)u->v[0], (long long)u->v[1], (long long)u->v[2],
              (long long)ptr->v[0], (long long)ptr->v[1], (long long)ptr->v[2],
              (long long)be_find(pk, 1003)->v[0], (void *)c);
    return 0;
}
#endif /* NO_BACKEND */
#endif /* FAKE_DNN */

#ifdef FAKE_MIN
/* A "driver" that exports cuInit only. */
CUresult cuInit(unsigned int flags) { return 0; }
#endif
