// ops.cu: the CUDA kernels of repro's GPU backend (package gpu/cuda), which
// loads them by name from the PTX that `make kernels` makes of this file
// (kernels/ops.ptx, embedded by package kernels).
//
// Every kernel computes what the CPU backend (gpu/cpu) computes for the same
// op; the math of each op is stated in gpu/backend.go. Conventions:
//
//   - Layout is NCHW. A view argument pair (float* p, int ps) is a batch of
//     images whose element (n,c,h,w) is p[n*ps + c*H*W + h*W + w]: ps, the
//     batch stride, exceeds C*H*W when the view is a channel range of a wider
//     tensor (DenseNet concatenation). Kernels touch only the channels of
//     their views.
//   - Elementwise kernels use grid-stride loops over 64-bit indices, so any
//     grid and block size computes the whole op.
//   - "accumulate": 0 overwrites (=), nonzero adds (+=).
//   - Reductions run in a fixed order for a given block size (one thread
//     per output summing serially, or a shared-memory tree), so results are
//     deterministic run to run.
//   - Float arithmetic that the CPU backend does in float32 is written with
//     f_mul/f_add/... (the _rn intrinsics on the device), which the compiler
//     never fuses into FMAs: those kernels give the CPU's bits exactly.
//
// The per-element math lives in __host__ __device__ functions so that the
// host tests (kernels/hosttest, driven by kernels/hosttest_test.go) compile
// and run this very file with g++, kernels included, through a small shim of
// the CUDA built-ins (kernels/hosttest/shim.h).

#if !defined(__CUDACC__) && !defined(REPRO_HOST_SHIM)
#error "ops.cu is CUDA: compile it with nvcc (make kernels), or include kernels/hosttest/shim.h first"
#endif

// The largest block the reduction kernels take (their shared arrays).
#define REDUCE_THREADS 256

// ---------------------------------------------------------------------------
// Arithmetic without contraction: each operation rounded on its own, as Go
// does on amd64, so that a*b+c is never computed as one fused multiply-add.

static __host__ __device__ __forceinline__ float f_mul(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

static __host__ __device__ __forceinline__ float f_add(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

static __host__ __device__ __forceinline__ float f_sub(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fsub_rn(a, b);
#else
    return a - b;
#endif
}

static __host__ __device__ __forceinline__ float f_div(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

// f_sqrt is the correctly rounded square root, which is what Go's
// float32(math.Sqrt(float64(v))) gives.
static __host__ __device__ __forceinline__ float f_sqrt(float a) {
#ifdef __CUDA_ARCH__
    return __fsqrt_rn(a);
#else
    return (float)sqrt((double)a);
#endif
}

static __host__ __device__ __forceinline__ double d_mul(double a, double b) {
#ifdef __CUDA_ARCH__
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

static __host__ __device__ __forceinline__ double d_add(double a, double b) {
#ifdef __CUDA_ARCH__
    return __dadd_rn(a, b);
#else
    return a + b;
#endif
}

static __host__ __device__ __forceinline__ double d_sub(double a, double b) {
#ifdef __CUDA_ARCH__
    return __dsub_rn(a, b);
#else
    return a - b;
#endif
}

// ---------------------------------------------------------------------------
// Random numbers: bit-identical to gpu.Mix and gpu.Uniform (gpu/random.go).

// repro_mix is splitmix64's finalizer applied to a + (b+1)*golden, with
// 64-bit unsigned wraparound.
static __host__ __device__ __forceinline__ unsigned long long repro_mix(unsigned long long a, unsigned long long b) {
    unsigned long long z = a + (b + 1ULL) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// repro_uniform maps the top 24 bits to a float in [0, 1), exactly.
static __host__ __device__ __forceinline__ float repro_uniform(unsigned long long bits) {
    return (float)(unsigned int)(bits >> 40) * (1.0f / 16777216.0f);
}

// dropout_keep is gpu/ref.DropoutKeep: Uniform(Mix(seed, e)) >= p.
static __host__ __device__ __forceinline__ bool dropout_keep(float p, unsigned long long seed, long long e) {
    return repro_uniform(repro_mix(seed, (unsigned long long)e)) >= p;
}

// ---------------------------------------------------------------------------
// Small per-element helpers.

// relu_value is Go's max(v, 0): +0 for -0, NaN stays NaN (unlike fmaxf).
static __host__ __device__ __forceinline__ float relu_value(float v) {
    return v > 0.0f ? v : (v == v ? 0.0f : v);
}

// max0 is Go's max(v, 0) for doubles.
static __host__ __device__ __forceinline__ double max0(double v) {
    return v > 0.0 ? v : (v == v ? 0.0 : v);
}

static __device__ __forceinline__ long long grid_start() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

static __device__ __forceinline__ long long grid_stride() {
    return (long long)blockDim.x * gridDim.x;
}

// ---------------------------------------------------------------------------
// Augmentation (gpu.Augment, gpu/cpu/dataset.go, gpu/ref.Placement).

struct AugPlace {
    int img;  // stored image i = item mod N
    int oy;   // row offset into the stored image
    int ox;   // column offset
    int flip; // 1: mirror the columns
};

// augment_place places pool item `item` of a set of N images: image
// i = item % N, copy j = item / N, key k = Mix(Mix(seed, u), i) with u = j
// when isStatic, else epoch; unless !random or (isStatic && keepOriginal &&
// j == 0): oy = minOff + k mod R, ox = minOff + (k>>20) mod R,
// flip = flip && bit 40 of k, R = maxOff-minOff+1; otherwise oy = ox = center,
// no flip.
static __host__ __device__ __forceinline__ AugPlace augment_place(int item, int N, int random, int minOff, int maxOff,
                                                                  int center, int flip, int isStatic, int keepOriginal,
                                                                  unsigned long long seed, int epoch) {
    AugPlace pl;
    pl.img = item % N;
    int j = item / N;
    pl.oy = center;
    pl.ox = center;
    pl.flip = 0;
    if (random && !(isStatic && keepOriginal && j == 0)) {
        // Go's uint64(int): sign extension, then wraparound
        unsigned long long u = isStatic ? (unsigned long long)(long long)j : (unsigned long long)(long long)epoch;
        unsigned long long k = repro_mix(repro_mix(seed, u), (unsigned long long)(long long)pl.img);
        unsigned long long r = (unsigned long long)(long long)(maxOff - minOff + 1);
        pl.oy = minOff + (int)(k % r);
        pl.ox = minOff + (int)((k >> 20) % r);
        pl.flip = (flip && ((k >> 40) & 1ULL)) ? 1 : 0;
    }
    return pl;
}

// batch_pixel is output pixel (c, y, x) of an out x out crop placed by pl:
// stored pixel (y+oy, x') with x' = out-1-x+ox when flipped, else x+ox,
// normalized as (u*imgScale[i] + imgShift[i] - mean[c,y',x']) * scale[c,y',x'];
// 0 outside the S x S stored image.
static __host__ __device__ __forceinline__ float batch_pixel(const unsigned char* pixels, const float* imgScale,
                                                             const float* imgShift, const float* mean,
                                                             const float* scale, AugPlace pl, int c, int y, int x,
                                                             int C, int S, int out) {
    int sy = y + pl.oy;
    int sx = pl.flip ? out - 1 - x + pl.ox : x + pl.ox;
    if (sy < 0 || sy >= S || sx < 0 || sx >= S) {
        return 0.0f;
    }
    long long plane = (long long)S * S;
    long long o = (long long)c * plane + (long long)sy * S + sx;
    float u = (float)pixels[(long long)pl.img * C * plane + o];
    return f_mul(f_sub(f_add(f_mul(u, imgScale[pl.img]), imgShift[pl.img]), mean[o]), scale[o]);
}

// ---------------------------------------------------------------------------
// Optimizers: one element of gpu.Backend.SGDStep and AdamStep, in the CPU
// backend's order of float32 operations (gpu/cpu/optim.go).

// sgd_update updates *p (and *m unless momentum == 0, when m may be null).
static __host__ __device__ __forceinline__ void sgd_update(float* p, float g, float* m, float decay, float lr,
                                                           float momentum, float dampening, float wd, int nesterov) {
    float pi = *p;
    float gi = f_add(g, f_mul(f_mul(wd, decay), pi));
    if (momentum == 0.0f) {
        *p = f_sub(pi, f_mul(lr, gi));
        return;
    }
    float mi = f_add(f_mul(momentum, *m), f_mul(f_sub(1.0f, dampening), gi));
    *m = mi;
    if (nesterov) {
        gi = f_add(gi, f_mul(momentum, mi));
    } else {
        gi = mi;
    }
    *p = f_sub(pi, f_mul(lr, gi));
}

// adam_update updates *p, *m, *v; bias1 = 1-b1^t, bias2 = 1-b2^t.
static __host__ __device__ __forceinline__ void adam_update(float* p, float g, float* m, float* v, float decay,
                                                            float lr, float b1, float b2, float eps, float wd,
                                                            int decoupled, float bias1, float bias2) {
    float pi = *p;
    float gi = g;
    if (decoupled) {
        pi = f_sub(pi, f_mul(f_mul(f_mul(lr, wd), decay), pi));
    } else {
        gi = f_add(gi, f_mul(f_mul(wd, decay), pi));
    }
    float mi = f_add(f_mul(b1, *m), f_mul(f_sub(1.0f, b1), gi));
    float vi = f_add(f_mul(b2, *v), f_mul(f_mul(f_sub(1.0f, b2), gi), gi));
    *m = mi;
    *v = vi;
    float mhat = f_div(mi, bias1);
    float vhat = f_div(vi, bias2);
    *p = f_sub(pi, f_div(f_mul(lr, mhat), f_add(f_sqrt(vhat), eps)));
}

// ---------------------------------------------------------------------------
// Softmax cross-entropy of one sample (gpu/cpu/linear.go): z holds K logits;
// dz, when not null, receives (softmax - onehot) * gradScale. A label < 0 is
// padding: dz is zeroed and nothing is counted. A label >= K (which the CPU
// backend reports as an error) adds NaN to the loss and is not read.
static __host__ __device__ __forceinline__ void xent_sample(const float* z, int K, int label, float* dz,
                                                            float gradScale, double* loss, int* wrong, int* count) {
    if (label < 0 || label >= K) {
        if (dz) {
            for (int k = 0; k < K; k++) {
                dz[k] = 0.0f;
            }
        }
        if (label >= K) {
            *loss += nan("");
        }
        return;
    }
    int arg = 0;
    float zmax = z[0];
    for (int k = 1; k < K; k++) {
        if (z[k] > zmax) { // the first maximum wins
            arg = k;
            zmax = z[k];
        }
    }
    double sum = 0.0;
    for (int k = 0; k < K; k++) {
        sum += exp((double)f_sub(z[k], zmax));
    }
    double lse = (double)zmax + log(sum);
    *loss += lse - (double)z[label];
    *count += 1;
    if (arg != label) {
        *wrong += 1;
    }
    if (dz) {
        for (int k = 0; k < K; k++) {
            double p = exp((double)z[k] - lse);
            if (k == label) {
                p -= 1.0;
            }
            dz[k] = f_mul((float)p, gradScale);
        }
    }
}

// ---------------------------------------------------------------------------
// Batch-norm per-channel math (gpu/cpu/batchnorm.go) from the reduced sums.

// channel_or_null is &p[c], or NULL for a NULL p (not NULL + c, which is
// no longer NULL).
static __host__ __device__ __forceinline__ float* channel_or_null(float* p, long long c) {
    return p != nullptr ? p + c : nullptr;
}

// bn_stats_finish turns sum x and sum x^2 over m values of a channel into
// the saved mean and inverse standard deviation and the running statistics;
// without runMean (NULL: BatchNorm.Stats) runVar receives the unbiased batch
// variance itself.
static __host__ __device__ __forceinline__ void bn_stats_finish(double sum, double sumsq, long long count, float eps,
                                                                float momentum, float* saveMean, float* saveInvStd,
                                                                float* runMean, float* runVar) {
    double m = (double)count;
    double mean = sum / m;
    double var = max0(d_sub(sumsq / m, d_mul(mean, mean)));
    double invstd = 1.0 / sqrt(var + (double)eps);
    *saveMean = (float)mean;
    *saveInvStd = (float)invstd;
    if (runMean == nullptr) {
        *runVar = (float)(d_mul(var, m) / (m - 1.0));
        return;
    }
    double mom = (double)momentum;
    *runMean = (float)d_add(d_mul(1.0 - mom, (double)*runMean), d_mul(mom, mean));
    *runVar = (float)d_add(d_mul(1.0 - mom, (double)*runVar), d_mul(d_mul(mom, var), m) / (m - 1.0));
}

// bn_train_coeffs folds a channel's saved statistics into the training
// forward's y = x*k1 + k0 (gpu.BatchNormTrainCoeffs): k1 = gamma*invstd,
// k0 = beta - mean*k1, in double, each rounded once. The fused ReLU's
// backward recomputes its mask from x with these same values.
static __host__ __device__ __forceinline__ void bn_train_coeffs(float gamma, float beta, float mean, float invstd,
                                                                float* k1, float* k0) {
    double a = d_mul((double)gamma, (double)invstd);
    *k1 = (float)a;
    *k0 = (float)d_sub((double)beta, d_mul((double)mean, a));
}

// bn_pre is the training forward's output before a fused ReLU, x*k1 + k0,
// as bn_apply computes it: the backward's mask must match it bit for bit.
static __host__ __device__ __forceinline__ float bn_pre(float x, float k1, float k0) {
    return f_add(f_mul(x, k1), k0);
}

// bn_grad_finish turns sum dy and sum dy*x over m values of a channel into
// dbeta, dgamma (+=) and the coefficients of dx = dy*k1 + x*k2 + k0.
static __host__ __device__ __forceinline__ void bn_grad_finish(double sdy, double sdyx, long long count, float gamma,
                                                               float saveMean, float saveInvStd, float* dgamma,
                                                               float* dbeta, float* k1, float* k2, float* k0) {
    double m = (double)count;
    double mean = (double)saveMean, invstd = (double)saveInvStd;
    double sdyxhat = d_mul(invstd, d_sub(sdyx, d_mul(mean, sdy))); // sum dy*(x-mean)*invstd
    *dbeta = f_add(*dbeta, (float)sdy);
    *dgamma = f_add(*dgamma, (float)sdyxhat);
    double c1 = d_mul((double)gamma, invstd);
    double c2 = d_mul(d_mul(-c1, invstd), sdyxhat) / m;
    *k1 = (float)c1;
    *k2 = (float)c2;
    *k0 = (float)d_sub(d_mul(-c1, sdy) / m, d_mul(c2, mean));
}

// block_sum2 sums a and b over the threads of the block (at most
// REDUCE_THREADS, any count) in a fixed tree order; every thread gets the
// totals. All threads of the block must call it.
static __device__ __forceinline__ void block_sum2(double* a, double* b, double* sa, double* sb) {
    unsigned int t = threadIdx.x, nt = blockDim.x;
    sa[t] = *a;
    sb[t] = *b;
    __syncthreads();
    for (unsigned int h = REDUCE_THREADS / 2; h > 0; h >>= 1) {
        if (t < h && t + h < nt) {
            sa[t] += sa[t + h];
            sb[t] += sb[t + h];
        }
        __syncthreads();
    }
    *a = sa[0];
    *b = sb[0];
    __syncthreads(); // sa[0], sb[0] are read by all before anyone reuses them
}

// ===========================================================================
// Kernels. Their names and parameter lists are the contract with gpu/cuda
// (see kernels.go); kernels_test.go checks them in the PTX.

extern "C" {

// fill_view: y = v over a view of n images of chw values.
__global__ void fill_view(float* y, int ys, int n, int chw, float v) {
    long long total = (long long)n * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw, r = e - img * chw;
        y[img * ys + r] = v;
    }
}

// copy_view: y = x.
__global__ void copy_view(float* y, int ys, const float* x, int xs, int n, int chw) {
    long long total = (long long)n * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw, r = e - img * chw;
        y[img * ys + r] = x[img * xs + r];
    }
}

// relu_forward: y = max(x, 0); y may be x.
__global__ void relu_forward(float* y, int ys, const float* x, int xs, int n, int chw) {
    long long total = (long long)n * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw, r = e - img * chw;
        y[img * ys + r] = relu_value(x[img * xs + r]);
    }
}

// relu_backward: dx = dy where y > 0, else 0; dx may be dy.
__global__ void relu_backward(float* dx, int dxs, const float* dy, int dys, const float* y, int yss, int n, int chw) {
    long long total = (long long)n * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw, r = e - img * chw;
        float g = dy[img * dys + r];
        dx[img * dxs + r] = y[img * yss + r] > 0.0f ? g : 0.0f;
    }
}

// add_forward: y = a + b; y may be a or b.
__global__ void add_forward(float* y, int ys, const float* a, int as_, const float* b, int bs, int n, int chw) {
    long long total = (long long)n * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw, r = e - img * chw;
        y[img * ys + r] = a[img * as_ + r] + b[img * bs + r];
    }
}

// residual_forward: y[n,c,i,j] = a[n,c,i,j] + s[n,c-pad,i*f,j*f] where
// 0 <= c-pad < sC, else a[n,c,i,j]; y may be a. a and y are C x H x W, s is
// sC x sH x sW.
__global__ void residual_forward(float* y, int ys, const float* a, int as_, const float* s, int ss, int n, int C, int H,
                                 int W, int sC, int sH, int sW, int f, int pad) {
    int hw = H * W, chw = C * hw;
    long long total = (long long)n * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw;
        int r = (int)(e - img * chw);
        int c = r / hw, p = r - c * hw;
        int i = p / W, j = p - i * W;
        float v = a[img * as_ + r];
        int cs = c - pad;
        if (cs >= 0 && cs < sC) {
            v = v + s[img * ss + (long long)cs * sH * sW + (long long)(i * f) * sW + j * f];
        }
        y[img * ys + r] = v;
    }
}

// shortcut_backward: over every ds element (n,c,i,j) of sC x sH x sW:
// ds (=, +=) dy[n, c+pad, i/f, j/f] when i%f == 0 and j%f == 0, else 0.
// dy is C x H x W.
__global__ void shortcut_backward(float* ds, int dss, const float* dy, int dys, int n, int sC, int sH, int sW, int C,
                                  int H, int W, int f, int pad, int accumulate) {
    int shw = sH * sW, schw = sC * shw;
    long long total = (long long)n * schw;
    (void)C;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / schw;
        int r = (int)(e - img * schw);
        int c = r / shw, p = r - c * shw;
        int i = p / sW, j = p - i * sW;
        bool on = i % f == 0 && j % f == 0;
        float v = 0.0f;
        if (on) {
            v = dy[img * dys + (long long)(c + pad) * H * W + (long long)(i / f) * W + j / f];
        }
        float* out = &ds[img * dss + r];
        if (!accumulate) {
            *out = v;
        } else if (on) {
            *out = *out + v;
        }
    }
}

// avgpool_forward: y[n,c,i,j] = (sum of the k x k window of x at (i*k, j*k),
// in row-major order) * (1/k^2). y is C x OH x OW, x C x OH*k x OW*k.
__global__ void avgpool_forward(float* y, int ys, const float* x, int xs, int n, int C, int OH, int OW, int k) {
    int ohw = OH * OW, chw = C * ohw;
    int W = OW * k;
    long long xplane = (long long)OH * k * W;
    float inv = f_div(1.0f, (float)(k * k));
    long long total = (long long)n * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw;
        int r = (int)(e - img * chw);
        int c = r / ohw, p = r - c * ohw;
        int i = p / OW, j = p - i * OW;
        const float* win = x + img * xs + c * xplane + (long long)(i * k) * W + j * k;
        float sum = 0.0f;
        for (int dp = 0; dp < k; dp++) {
            for (int dq = 0; dq < k; dq++) {
                sum = f_add(sum, win[(long long)dp * W + dq]);
            }
        }
        y[img * ys + r] = f_mul(sum, inv);
    }
}

// avgpool_backward: dx[n,c,i*k+p,j*k+q] (=, +=) dy[n,c,i,j] * (1/k^2), over
// the dx elements. dy is C x OH x OW, dx C x OH*k x OW*k.
__global__ void avgpool_backward(float* dx, int dxs, const float* dy, int dys, int n, int C, int OH, int OW, int k,
                                 int accumulate) {
    int H = OH * k, W = OW * k;
    int hw = H * W, chw = C * hw;
    float inv = f_div(1.0f, (float)(k * k));
    long long total = (long long)n * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw;
        int r = (int)(e - img * chw);
        int c = r / hw, p = r - c * hw;
        int h = p / W, w = p - h * W;
        float g = f_mul(dy[img * dys + (long long)c * OH * OW + (long long)(h / k) * OW + w / k], inv);
        float* out = &dx[img * dxs + r];
        *out = accumulate ? f_add(*out, g) : g;
    }
}

// gap_forward: y[n,c] = (sum over the HW values of x[n,c], in order) *
// (1/HW); one thread per (n, c). y is C x 1 x 1.
__global__ void gap_forward(float* y, int ys, const float* x, int xs, int n, int C, int HW) {
    float inv = f_div(1.0f, (float)HW);
    long long total = (long long)n * C;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / C;
        int c = (int)(e - img * C);
        const float* p = x + img * xs + (long long)c * HW;
        float sum = 0.0f;
        for (int s = 0; s < HW; s++) {
            sum = f_add(sum, p[s]);
        }
        y[img * ys + c] = f_mul(sum, inv);
    }
}

// gap_backward: dx[n,c,s] (=, +=) dy[n,c] * (1/HW).
__global__ void gap_backward(float* dx, int dxs, const float* dy, int dys, int n, int C, int HW, int accumulate) {
    float inv = f_div(1.0f, (float)HW);
    long long chw = (long long)C * HW;
    long long total = (long long)n * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw, r = e - img * chw;
        long long c = r / HW;
        float g = f_mul(dy[img * dys + c], inv);
        float* out = &dx[img * dxs + r];
        *out = accumulate ? f_add(*out, g) : g;
    }
}

// dropout: y (=, +=) keep ? x * (1/(1-p)) : 0 with keep = Uniform(Mix(k, e))
// >= p, k = Mix(step, salt), step the 64-bit seed in step[0] (low half) and
// step[1] (high half) as gpu.Backend.SetSeed stored it (read here, not passed
// by value, so that a recorded step replays with the seed stored before it;
// two 4-byte reads, as the words need not be 8-byte aligned), e = image*chw +
// r the NCHW index within the view. Forward (accumulate 0) and backward (x =
// dy).
__global__ void dropout(float* y, int ys, const float* x, int xs, int n, int chw, float p,
                        const int* step, unsigned long long salt, int accumulate) {
    unsigned long long seed =
        repro_mix((unsigned long long)(unsigned int)step[0] | (unsigned long long)(unsigned int)step[1] << 32, salt);
    float scale = f_div(1.0f, f_sub(1.0f, p));
    long long total = (long long)n * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw, r = e - img * chw;
        float v = dropout_keep(p, seed, e) ? f_mul(x[img * xs + r], scale) : 0.0f;
        float* out = &y[img * ys + r];
        *out = accumulate ? f_add(*out, v) : v;
    }
}

// softmax_xent: loss, error and count of n samples of K logits (rows of
// stride ls), and when dlogits is not null their gradient (rows of stride
// dls); see xent_sample. One block (block 0 works, others return), each
// thread taking samples t, t+blockDim, ...; the per-thread sums are reduced
// in a fixed tree order and thread 0 adds them to metrics[0..2].
__global__ void __launch_bounds__(REDUCE_THREADS) softmax_xent(float* dlogits, int dls, float* metrics,
                                                               const float* logits, int ls, const int* labels, int n,
                                                               int K, float gradScale) {
    __shared__ double sLoss[REDUCE_THREADS];
    __shared__ int sWrong[REDUCE_THREADS];
    __shared__ int sCount[REDUCE_THREADS];
    if (blockIdx.x != 0) {
        return;
    }
    unsigned int t = threadIdx.x, nt = blockDim.x;
    double loss = 0.0;
    int wrong = 0, count = 0;
    for (int s = (int)t; s < n; s += (int)nt) {
        float* dz = dlogits ? dlogits + (long long)s * dls : 0;
        xent_sample(logits + (long long)s * ls, K, labels[s], dz, gradScale, &loss, &wrong, &count);
    }
    sLoss[t] = loss;
    sWrong[t] = wrong;
    sCount[t] = count;
    __syncthreads();
    for (unsigned int h = REDUCE_THREADS / 2; h > 0; h >>= 1) {
        if (t < h && t + h < nt) {
            sLoss[t] += sLoss[t + h];
            sWrong[t] += sWrong[t + h];
            sCount[t] += sCount[t + h];
        }
        __syncthreads();
    }
    if (t == 0) {
        metrics[0] = f_add(metrics[0], (float)sLoss[0]);
        metrics[1] = f_add(metrics[1], (float)sWrong[0]);
        metrics[2] = f_add(metrics[2], (float)sCount[0]);
    }
}

// bias_rows: y[n,k] = b[k] (y is N x K x 1 x 1 of batch stride ys).
__global__ void bias_rows(float* y, int ys, const float* b, int n, int K) {
    long long total = (long long)n * K;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / K, k = e - img * K;
        y[img * ys + k] = b[k];
    }
}

// bias_grad: db[k] += dy[0,k] + dy[1,k] + ... added one at a time in order
// onto db[k], as the CPU backend does; one thread per k.
__global__ void bias_grad(float* db, const float* dy, int dys, int n, int K) {
    for (long long k = grid_start(); k < K; k += grid_stride()) {
        float acc = db[k];
        for (int s = 0; s < n; s++) {
            acc = f_add(acc, dy[(long long)s * dys + k]);
        }
        db[k] = acc;
    }
}

// sgd_step: gpu.Backend.SGDStep over n elements (m may be null when
// momentum == 0).
__global__ void sgd_step(float* p, const float* g, float* m, const float* decay, int n, float lr, float momentum,
                         float dampening, float wd, int nesterov) {
    for (long long i = grid_start(); i < n; i += grid_stride()) {
        sgd_update(&p[i], g[i], momentum == 0.0f ? 0 : &m[i], decay[i], lr, momentum, dampening, wd, nesterov);
    }
}

// adam_step: gpu.Backend.AdamStep over n elements; bias1 = 1-b1^t and
// bias2 = 1-b2^t.
__global__ void adam_step(float* p, const float* g, float* m, float* v, const float* decay, int n, float lr, float b1,
                          float b2, float eps, float wd, int decoupled, float bias1, float bias2) {
    for (long long i = grid_start(); i < n; i += grid_stride()) {
        adam_update(&p[i], g[i], &m[i], &v[i], decay[i], lr, b1, b2, eps, wd, decoupled, bias1, bias2);
    }
}

// build_batch: gpu.Backend.BuildBatch. x is packed nb x C x out x out;
// sample s is pool item order[start+s] placed by augment_place and read by
// batch_pixel, with its label in labelsOut[s]; samples with start+s >=
// orderLen are padding (zeros, label -1). The dataset holds N images of
// C x S x S.
__global__ void build_batch(float* x, int* labelsOut, const unsigned char* pixels, const unsigned char* labels,
                            const float* imgScale, const float* imgShift, const float* mean, const float* scale,
                            const int* order, int orderLen, int start, int nb, int N, int C, int S, int out,
                            int random, int minOff, int maxOff, int center, int flip, int isStatic, int keepOriginal,
                            unsigned long long seed, int epoch) {
    int oo = out * out, chw = C * oo;
    long long total = (long long)nb * chw;
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long s = e / chw;
        int r = (int)(e - s * chw);
        long long q = (long long)start + s;
        if (q >= orderLen) {
            x[e] = 0.0f;
            if (r == 0) {
                labelsOut[s] = -1;
            }
            continue;
        }
        AugPlace pl = augment_place(order[q], N, random, minOff, maxOff, center, flip, isStatic, keepOriginal, seed,
                                    epoch);
        if (r == 0) {
            labelsOut[s] = (int)labels[pl.img];
        }
        int c = r / oo, p = r - c * oo;
        int yy = p / out, xx = p - yy * out;
        x[e] = batch_pixel(pixels, imgScale, imgShift, mean, scale, pl, c, yy, xx, C, S, out);
    }
}

// CHAINS (4: the sums below add exactly four) is how many independent runs of a channel's values each thread of
// the batch-norm reductions walks at once: the values are split into
// CHAINS contiguous quarters, and thread t visits t, t+nt, ... of each,
// so that CHAINS loads are in flight per thread instead of one. The order of
// every sum is still fixed by the block size alone.
#define CHAINS 4

// chain_walk is one run of bn_stats/bn_grad_stats: value e of a channel is
// (image e / HW, position e % HW); it advances by nt without division.
struct chain_walk {
    long long e, end;
    int img, pos;
};

// chain_init starts run j of the values [lo, hi) of a channel.
static __device__ __forceinline__ void chain_init(chain_walk* w, int j, int t, long long lo, long long hi, int HW) {
    long long q = (hi - lo + CHAINS - 1) / CHAINS;
    long long a = lo + q * j, b = a + q;
    w->end = b < hi ? b : hi;
    w->e = a + t;
    w->img = (int)(w->e / HW);
    w->pos = (int)(w->e - (long long)w->img * HW);
}

static __device__ __forceinline__ void chain_next(chain_walk* w, int nt, int stepImg, int stepPos, int HW) {
    w->e += nt;
    w->img += stepImg;
    w->pos += stepPos;
    if (w->pos >= HW) {
        w->pos -= HW;
        w->img++;
    }
}

// channel_sums returns in *su and *suv the block's sums of u and u*v over
// values [lo, hi) of the n*HW of one channel, u from (pu, us) and v from
// (pv, vs), both pointing at the channel's first value (v = u gives the sum
// of squares).
// With relu (a fused ReLU's coefficients m1, m0), u counts only where
// bn_pre(v, m1, m0) > 0, as relu_backward of the forward's output. Each
// thread walks CHAINS runs at once; the order of every sum is fixed by the
// block size alone. All threads of the block must call it.
static __device__ __forceinline__ void channel_sums(const float* pu, int us, int relu, float m1, float m0,
                                                    const float* pv, int vs, long long lo, long long hi, int HW,
                                                    double* sa, double* sb, double* su, double* suv) {
    int t = (int)threadIdx.x, nt = (int)blockDim.x;
    int stepImg = nt / HW, stepPos = nt - stepImg * HW;
    chain_walk w[CHAINS];
    double a[CHAINS], b[CHAINS];
    for (int j = 0; j < CHAINS; j++) {
        chain_init(&w[j], j, t, lo, hi, HW);
        a[j] = 0.0;
        b[j] = 0.0;
    }
    // chain 0 is the longest
    while (w[0].e < w[0].end) {
#pragma unroll
        for (int j = 0; j < CHAINS; j++) {
            if (w[j].e < w[j].end) {
                double u = (double)pu[(long long)w[j].img * us + w[j].pos];
                float v = pv[(long long)w[j].img * vs + w[j].pos];
                if (relu && !(bn_pre(v, m1, m0) > 0.0f)) {
                    u = 0.0;
                }
                a[j] += u;
                b[j] += u * (double)v;
                chain_next(&w[j], nt, stepImg, stepPos, HW);
            }
        }
    }
    *su = (a[0] + a[1]) + (a[2] + a[3]);
    *suv = (b[0] + b[1]) + (b[2] + b[3]);
    block_sum2(su, suv, sa, sb);
}

// segment_bounds: segment s of S of a channel's n*HW values is [*lo, *hi).
static __device__ __forceinline__ void segment_bounds(int n, int HW, int s, int S, long long* lo, long long* hi) {
    long long total = (long long)n * HW;
    *lo = total * s / S;
    *hi = total * (s + 1) / S;
}

// segment_done is called by thread 0 of a block that has left its partial
// sums of one of a channel's S segments in part: it counts the segment in
// count[c] and says whether it was the channel's last, in which case every
// segment's sums are visible to this thread and count[c] is back at 0 for
// the next call (the "last block" pattern of CUDA's threadFenceReduction
// sample). So one launch both sums the segments and finishes each channel,
// where a second kernel did the adding up before.
static __device__ __forceinline__ bool segment_done(int* count, int c, int S) {
    __threadfence(); // this block's partial sums before its count
    if (atomicAdd(&count[c], 1) != S - 1) {
        return false;
    }
    __threadfence(); // every other block's partial sums before they are read
    count[c] = 0;
    return true;
}

// segment_total adds a channel's S partial sums (pairs in part) in order,
// reading past the cache (other blocks wrote them).
static __device__ __forceinline__ void segment_total(const double* part, int c, int S, double* a, double* b) {
    const volatile double* p = part + 2 * (long long)c * S;
    *a = 0.0;
    *b = 0.0;
    for (int s = 0; s < S; s++) {
        *a += p[2 * s];
        *b += p[2 * s + 1];
    }
}

// channel_done is called by thread 0 of the block that summed segment b of
// channel c (of S) into *a, *sb. With S = 1 the channel is done. Else it
// leaves the sums in part for the channel's other blocks and says whether
// this was its last segment (segment_done), the channel's totals then in
// *a, *sb.
static __device__ __forceinline__ bool channel_done(double* part, int* count, int b, int c, int S, double* a,
                                                    double* sb) {
    if (S == 1) {
        return true;
    }
    part[2 * b] = *a;
    part[2 * b + 1] = *sb;
    if (!segment_done(count, c, S)) {
        return false;
    }
    segment_total(part, c, S, a, sb);
    return true;
}

// bn_stats_finish_channel is bn_stats_finish of channel c, then with k1 (not
// NULL) the training forward's coefficients (bn_train_coeffs) of the saved
// statistics into k1[c], k0[c].
static __device__ __forceinline__ void bn_stats_finish_channel(double sum, double sumsq, long long count, float eps,
                                                               float momentum, int c, float* saveMean,
                                                               float* saveInvStd, float* runMean, float* runVar,
                                                               const float* gamma, const float* beta, float* k1,
                                                               float* k0) {
    bn_stats_finish(sum, sumsq, count, eps, momentum, &saveMean[c], &saveInvStd[c], channel_or_null(runMean, c),
                    &runVar[c]);
    if (k1 != nullptr) {
        bn_train_coeffs(gamma[c], beta[c], saveMean[c], saveInvStd[c], &k1[c], &k0[c]);
    }
}

// bn_stats: the sum and sum of squares, in double, of each channel's n*HW
// values, split into S segments: block b (blocks striding over C*S; at most
// REDUCE_THREADS threads) sums segment b % S of channel b / S in a fixed
// order, and the block that finishes a channel's last segment (with S > 1:
// partial sums in part, counted in count, which must be 0 at the start and
// is left so) adds the segments up in order and finishes the channel:
// bn_stats_finish, and with k1 (not NULL) the forward's coefficients from
// gamma and beta. A few wide channels fill the GPU with S = 1; ResNet's 16
// channels of 131072 values need S > 1 (one block per channel would use 16
// SMs).
__global__ void __launch_bounds__(REDUCE_THREADS) bn_stats(float* saveMean, float* saveInvStd, float* runMean,
                                                           float* runVar, const float* x, int xs, int n, int C,
                                                           int HW, float eps, float momentum, const float* gamma,
                                                           const float* beta, float* k1, float* k0, double* part,
                                                           int* count, int S) {
    __shared__ double sa[REDUCE_THREADS];
    __shared__ double sb[REDUCE_THREADS];
    int t = (int)threadIdx.x;
    long long m = (long long)n * HW;
    for (int b = (int)blockIdx.x; b < C * S; b += (int)gridDim.x) {
        int c = b / S, s = b - c * S;
        const float* xc = x + (long long)c * HW;
        long long lo, hi;
        segment_bounds(n, HW, s, S, &lo, &hi);
        double sa0, sb0;
        channel_sums(xc, xs, 0, 0.0f, 0.0f, xc, xs, lo, hi, HW, sa, sb, &sa0, &sb0);
        if (t == 0 && channel_done(part, count, b, c, S, &sa0, &sb0)) {
            bn_stats_finish_channel(sa0, sb0, m, eps, momentum, c, saveMean, saveInvStd, runMean, runVar, gamma, beta,
                                    k1, k0);
        }
    }
}

// bn_coeffs_train: k1 = gamma*invstd, k0 = beta - mean*k1 (bn_train_coeffs).
// Given runMean (else NULL: bn_stats updated them), also the running
// statistics from the batch's mean and unbiased variance batchVar, as
// BatchNorm.ForwardTrainFromStats: run = (1-momentum)*run + momentum*batch
// in double.
__global__ void bn_coeffs_train(float* k1, float* k0, const float* gamma, const float* beta, const float* mean,
                                const float* invstd, float* runMean, float* runVar, const float* batchVar,
                                float momentum, int C) {
    double mom = (double)momentum;
    for (long long c = grid_start(); c < C; c += grid_stride()) {
        bn_train_coeffs(gamma[c], beta[c], mean[c], invstd[c], &k1[c], &k0[c]);
        if (runMean != nullptr) {
            runMean[c] = (float)d_add(d_mul(1.0 - mom, (double)runMean[c]), d_mul(mom, (double)mean[c]));
            runVar[c] = (float)d_add(d_mul(1.0 - mom, (double)runVar[c]), d_mul(mom, (double)batchVar[c]));
        }
    }
}

// bn_coeffs_infer: k1 = gamma/sqrt(runVar+eps), k0 = beta - runMean*k1.
__global__ void bn_coeffs_infer(float* k1, float* k0, const float* gamma, const float* beta, const float* runMean,
                                const float* runVar, float eps, int C) {
    for (long long c = grid_start(); c < C; c += grid_stride()) {
        double a = (double)gamma[c] / sqrt((double)runVar[c] + (double)eps);
        k1[c] = (float)a;
        k0[c] = (float)d_sub((double)beta[c], d_mul((double)runMean[c], a));
    }
}

// bn_out is the batch norm's output value v, after the fused ReLU if relu,
// or with a shortcut (r not NULL) max(v + *r, 0).
static __host__ __device__ __forceinline__ float bn_out(float v, const float* r, int relu) {
    if (r != nullptr) {
        return relu_value(f_add(v, *r));
    }
    return relu ? relu_value(v) : v;
}

// bn_apply: y = x*k1[c] + k0[c], then max(y, 0) with relu (the fused ReLU);
// with a shortcut view r (NULL for none) max(y + r, 0), the end of a
// residual block. y may be x or r. (32-bit index math when the view fits it:
// a 64-bit division per element costs more than the load.)
__global__ void bn_apply(float* y, int ys, const float* x, int xs, const float* r, int rs, const float* k1,
                         const float* k0, int n, int C, int HW, int relu) {
    long long chw = (long long)C * HW;
    long long total = (long long)n * chw;
    if (total < 0x7fffffffLL) {
        unsigned int chw32 = (unsigned int)chw, hw = (unsigned int)HW;
        for (unsigned int e = (unsigned int)grid_start(); e < (unsigned int)total; e += (unsigned int)grid_stride()) {
            unsigned int img = e / chw32, i = e - img * chw32, c = i / hw;
            const float* ri = r != nullptr ? &r[(long long)img * rs + i] : nullptr;
            y[(long long)img * ys + i] = bn_out(bn_pre(x[(long long)img * xs + i], k1[c], k0[c]), ri, relu);
        }
        return;
    }
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw, i = e - img * chw;
        long long c = i / HW;
        const float* ri = r != nullptr ? &r[img * rs + i] : nullptr;
        y[img * ys + i] = bn_out(bn_pre(x[img * xs + i], k1[c], k0[c]), ri, relu);
    }
}

// bn_grad_finish_channel is bn_grad_finish of channel c into k[c], k[C+c],
// k[2C+c], and with relu the ReLU's coefficients m1, m0 into k[3C+c],
// k[4C+c].
static __device__ __forceinline__ void bn_grad_finish_channel(double sdy, double sdyx, long long count, int c, int C,
                                                              const float* gamma, const float* mean,
                                                              const float* invstd, float* dgamma, float* dbeta,
                                                              float* k, int relu, float m1, float m0) {
    bn_grad_finish(sdy, sdyx, count, gamma[c], mean[c], invstd[c], &dgamma[c], &dbeta[c], &k[c], &k[C + c],
                   &k[2 * C + c]);
    if (relu) {
        k[3 * C + c] = m1;
        k[4 * C + c] = m0;
    }
}

// bn_grad_stats: per channel c, in S segments as bn_stats (the last block of
// a channel adding up its segments, as there), sdy = sum dy and sdyx = sum
// dy*x in double, then bn_grad_finish: dbeta, dgamma (+=) and k[c] = k1,
// k[C+c] = k2, k[2C+c] = k0 for bn_grad_apply. With relu (the fused ReLU)
// dy counts only where the forward's output was > 0, recomputed from x as
// bn_pre with bn_train_coeffs of gamma, beta and the saved statistics, which
// then also go to k[3C+c] and k[4C+c] for bn_grad_apply.
__global__ void __launch_bounds__(REDUCE_THREADS) bn_grad_stats(float* dgamma, float* dbeta, float* k, const float* dy,
                                                                int dys, const float* x, int xs, const float* gamma,
                                                                const float* beta, const float* mean,
                                                                const float* invstd, int n, int C, int HW, int relu,
                                                                double* part, int* count, int S) {
    __shared__ double sa[REDUCE_THREADS];
    __shared__ double sb[REDUCE_THREADS];
    int t = (int)threadIdx.x;
    long long m = (long long)n * HW;
    for (int b = (int)blockIdx.x; b < C * S; b += (int)gridDim.x) {
        int c = b / S, s = b - c * S;
        const float* dyc = dy + (long long)c * HW;
        const float* xc = x + (long long)c * HW;
        float m1 = 0.0f, m0 = 0.0f;
        if (relu) {
            bn_train_coeffs(gamma[c], beta[c], mean[c], invstd[c], &m1, &m0);
        }
        long long lo, hi;
        segment_bounds(n, HW, s, S, &lo, &hi);
        double sa0, sb0;
        channel_sums(dyc, dys, relu, m1, m0, xc, xs, lo, hi, HW, sa, sb, &sa0, &sb0);
        if (t == 0 && channel_done(part, count, b, c, S, &sa0, &sb0)) {
            bn_grad_finish_channel(sa0, sb0, m, c, C, gamma, mean, invstd, dgamma, dbeta, k, relu, m1, m0);
        }
    }
}

// bn_grad_value is element e's dx term g*k1 + x*k2 + k0 with g = dy, or with
// relu dy where bn_pre(x, k[3C+c], k[4C+c]) > 0, else 0.
static __device__ __forceinline__ float bn_grad_value(float dy, float x, const float* k, int C, long long c, int relu) {
    float g = dy;
    if (relu && !(bn_pre(x, k[3 * C + c], k[4 * C + c]) > 0.0f)) {
        g = 0.0f;
    }
    return f_add(f_add(f_mul(g, k[c]), f_mul(x, k[C + c])), k[2 * C + c]);
}

// bn_grad_apply: dx (=, +=) g*k1[c] + x*k2[c] + k0[c] with k as bn_grad_stats
// left it (bn_grad_value); dx may be dy. (32-bit index math when it fits, as
// bn_apply.)
__global__ void bn_grad_apply(float* dx, int dxs, const float* dy, int dys, const float* x, int xs, const float* k,
                              int n, int C, int HW, int relu, int accumulate) {
    long long chw = (long long)C * HW;
    long long total = (long long)n * chw;
    if (total < 0x7fffffffLL) {
        unsigned int chw32 = (unsigned int)chw, hw = (unsigned int)HW;
        for (unsigned int e = (unsigned int)grid_start(); e < (unsigned int)total; e += (unsigned int)grid_stride()) {
            unsigned int img = e / chw32, r = e - img * chw32, c = r / hw;
            float v = bn_grad_value(dy[(long long)img * dys + r], x[(long long)img * xs + r], k, C, c, relu);
            float* out = &dx[(long long)img * dxs + r];
            *out = accumulate ? f_add(*out, v) : v;
        }
        return;
    }
    for (long long e = grid_start(); e < total; e += grid_stride()) {
        long long img = e / chw, r = e - img * chw;
        long long c = r / HW;
        float v = bn_grad_value(dy[img * dys + r], x[img * xs + r], k, C, c, relu);
        float* out = &dx[img * dxs + r];
        *out = accumulate ? f_add(*out, v) : v;
    }
}

} // extern "C"
