//go:build cgo

package vec

/*
#cgo CFLAGS: -O3 -fopenmp-simd
#include <stddef.h>

// Each loop is compiled three times, for x86-64-v4 (AVX-512), v3 (AVX2, FMA)
// and the baseline; the loader picks one by the CPU (GNU ifunc). Elsewhere
// it is compiled once for the target.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VEC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VEC
#endif

// INLINE: what a loop calls is inlined into each of its clones.
#define INLINE static inline __attribute__((always_inline))

// relu0 is max(v, 0) as Go computes it: NaN stays NaN, -0 becomes +0.
INLINE float relu0(float v) { return v <= 0 ? 0 : v; }

// Rows of whole tensors (ld == c) are one run of rows*c values; channel
// views loop per row. Inner loops over channels index k1/k0 by channel.

VEC static void vec_relu(float *y, long ldy, const float *x, long ldx, long rows, long c) {
	if (ldy == c && ldx == c) {
		c *= rows;
		rows = 1;
	}
	for (long r = 0; r < rows; r++) {
		float *yr = y + r * ldy;
		const float *xr = x + r * ldx;
		for (long j = 0; j < c; j++) {
			yr[j] = relu0(xr[j]);
		}
	}
}

VEC static void vec_relu_backward(float *dx, long lddx, const float *dy, long lddy, const float *y, long ldy, long rows, long c) {
	if (lddx == c && lddy == c && ldy == c) {
		c *= rows;
		rows = 1;
	}
	for (long r = 0; r < rows; r++) {
		float *dxr = dx + r * lddx;
		const float *dyr = dy + r * lddy, *yr = y + r * ldy;
		for (long j = 0; j < c; j++) {
			dxr[j] = yr[j] > 0 ? dyr[j] : 0;
		}
	}
}

// bn_pre is batch norm's output before a fused ReLU, x*k1 + k0. The forward
// and the masked backward loops both call it, so that gcc contracts it the
// same way in each (a fused multiply-add in the AVX2 and AVX-512 clones) and
// the backward's mask is exactly where the forward's output is > 0.
INLINE float bn_pre(float x, float k1, float k0) { return x * k1 + k0; }

// relu: the ReLU fused after batch norm, max(v, 0) as vec_relu; with a
// shortcut s (NULL for none; it may be y) max(v + s, 0).
VEC static void vec_affine(float *y, long ldy, const float *x, long ldx, const float *s, long lds,
		const float *restrict k1, const float *restrict k0, long rows, long c, int relu) {
	for (long r = 0; r < rows; r++) {
		float *yr = y + r * ldy;
		const float *xr = x + r * ldx;
		if (s) {
			const float *sr = s + r * lds;
			for (long j = 0; j < c; j++) {
				yr[j] = relu0(bn_pre(xr[j], k1[j], k0[j]) + sr[j]);
			}
		} else if (relu) {
			for (long j = 0; j < c; j++) {
				yr[j] = relu0(bn_pre(xr[j], k1[j], k0[j]));
			}
		} else {
			for (long j = 0; j < c; j++) {
				yr[j] = bn_pre(xr[j], k1[j], k0[j]);
			}
		}
	}
}

// masked is dy where v, the fused ReLU's input, is > 0, else +0 (also where
// v is NaN), by clearing dy's bits: gcc 12 did not vectorize a select here
// (the masked sums ran 18x slower than the plain ones).
INLINE float masked(float dy, float v) {
	union { float f; unsigned u; } d = {dy};
	d.u &= -(unsigned)(v > 0);
	return d.f;
}

// vec_affine_grad: dx (=, +=) g*k1 + x*k2 + k0 with g = dy, or with the
// coefficients m1, m0 of a fused ReLU's forward (NULL for none) dy where
// bn_pre(x, m1, m0) > 0, else 0. One loop per case: a test of m1 inside the
// loop keeps gcc from vectorizing it.
VEC static void vec_affine_grad(float *dx, long lddx, const float *dy, long lddy, const float *x, long ldx,
		const float *restrict k1, const float *restrict k2, const float *restrict k0,
		const float *restrict m1, const float *restrict m0, long rows, long c, int accumulate) {
	for (long r = 0; r < rows; r++) {
		float *dxr = dx + r * lddx;
		const float *dyr = dy + r * lddy, *xr = x + r * ldx;
		if (m1) {
			if (accumulate) {
				for (long j = 0; j < c; j++) dxr[j] += masked(dyr[j], bn_pre(xr[j], m1[j], m0[j])) * k1[j] + xr[j] * k2[j] + k0[j];
			} else {
				for (long j = 0; j < c; j++) dxr[j] = masked(dyr[j], bn_pre(xr[j], m1[j], m0[j])) * k1[j] + xr[j] * k2[j] + k0[j];
			}
		} else if (accumulate) {
			for (long j = 0; j < c; j++) dxr[j] += dyr[j] * k1[j] + xr[j] * k2[j] + k0[j];
		} else {
			for (long j = 0; j < c; j++) dxr[j] = dyr[j] * k1[j] + xr[j] * k2[j] + k0[j];
		}
	}
}

VEC static void vec_sums_sq(double *restrict s1, double *restrict s2, const float *restrict x, long ldx, long rows, long c) {
	for (long r = 0; r < rows; r++) {
		const float *xr = x + r * ldx;
		for (long j = 0; j < c; j++) {
			double f = xr[j];
			s1[j] += f;
			s2[j] += f * f;
		}
	}
}

// vec_sums_dot: s1 += g, s2 += g*x per channel, g as in vec_affine_grad.
VEC static void vec_sums_dot(double *restrict s1, double *restrict s2, const float *restrict dy, long lddy,
		const float *restrict x, long ldx, const float *restrict m1, const float *restrict m0, long rows, long c) {
	for (long r = 0; r < rows; r++) {
		const float *dyr = dy + r * lddy, *xr = x + r * ldx;
		if (m1) {
			for (long j = 0; j < c; j++) {
				double g = masked(dyr[j], bn_pre(xr[j], m1[j], m0[j]));
				s1[j] += g;
				s2[j] += g * (double)xr[j];
			}
		} else {
			for (long j = 0; j < c; j++) {
				double g = dyr[j];
				s1[j] += g;
				s2[j] += g * (double)xr[j];
			}
		}
	}
}

VEC static void vec_add(float *y, long ldy, const float *a, long lda, const float *b, long ldb, long rows, long c) {
	if (ldy == c && lda == c && ldb == c) {
		c *= rows;
		rows = 1;
	}
	for (long r = 0; r < rows; r++) {
		float *yr = y + r * ldy;
		const float *ar = a + r * lda, *br = b + r * ldb;
		for (long j = 0; j < c; j++) yr[j] = ar[j] + br[j];
	}
}

VEC static void vec_copy_add(float *y, long ldy, const float *x, long ldx, long rows, long c, int accumulate) {
	if (ldy == c && ldx == c) {
		c *= rows;
		rows = 1;
	}
	for (long r = 0; r < rows; r++) {
		float *yr = y + r * ldy;
		const float *xr = x + r * ldx;
		if (accumulate) {
			for (long j = 0; j < c; j++) yr[j] += xr[j];
		} else {
			for (long j = 0; j < c; j++) yr[j] = xr[j];
		}
	}
}

// Winograd F(m x m, 3x3) for m = 2 and 4 (vec.F2, vec.F4; see
// winograd.go): a = m + 2, a x a patches in, a*a matrices ks apart out
// (Winograd.Stride), or back.
// Each 1-D transform is written out with its small integer coefficients
// (F2's only add, in the order of the Go reference, which they match bit
// for bit). The tile functions take m as a constant and are inlined (INLINE)
// into one loop over tiles per algorithm, itself inlined into each transform's
// AVX-512/AVX2/baseline clones: left alone, gcc kept F4's tiles out of line
// as the baseline's SSE code (1.7x slower). There omp simd vectorizes over
// channels once the loops over the tile are unrolled, which gcc 12 does
// only when told to (without it, F4's ran 8x slower).

// y = B^T x for x, y of a values
#define WINOGRAD_BT(m, y, x) do { \
	if ((m) == 2) { \
		y[0] = x[0] - x[2]; y[1] = x[1] + x[2]; y[2] = x[2] - x[1]; y[3] = x[1] - x[3]; \
	} else { \
		y[0] = 4 * x[0] - 5 * x[2] + x[4]; \
		y[1] = x[3] + x[4] - 4 * (x[1] + x[2]); \
		y[2] = x[4] - x[3] + 4 * (x[1] - x[2]); \
		y[3] = x[4] - x[2] + 2 * (x[3] - x[1]); \
		y[4] = x[4] - x[2] - 2 * (x[3] - x[1]); \
		y[5] = 4 * x[1] - 5 * x[3] + x[5]; \
	} \
} while (0)

// y = A^T x for x of a values, y of m
#define WINOGRAD_AT(m, y, x) do { \
	if ((m) == 2) { \
		y[0] = x[0] + x[1] + x[2]; y[1] = x[1] - x[2] - x[3]; \
	} else { \
		float p12 = x[1] + x[2], m12 = x[1] - x[2], p34 = x[3] + x[4], m34 = x[3] - x[4]; \
		y[0] = x[0] + p12 + p34; \
		y[1] = m12 + 2 * m34; \
		y[2] = p12 + 4 * p34; \
		y[3] = m12 + 8 * m34 + x[5]; \
	} \
} while (0)

// y = A x for x of m values, y of a
#define WINOGRAD_A(m, y, x) do { \
	if ((m) == 2) { \
		y[0] = x[0]; y[1] = x[0] + x[1]; y[2] = x[0] - x[1]; y[3] = -x[1]; \
	} else { \
		float p02 = x[0] + x[2], p13 = x[1] + x[3], q02 = x[0] + 4 * x[2], q13 = 2 * x[1] + 8 * x[3]; \
		y[0] = x[0]; \
		y[1] = p02 + p13; \
		y[2] = p02 - p13; \
		y[3] = q02 + q13; \
		y[4] = q02 - q13; \
		y[5] = x[3]; \
	} \
} while (0)

// The tile functions read (or write) the patch's pixel (i, j) at
// d[i*side+j] for edge tiles, and at base + i*rs + j*cs for tiles inside
// the image: inlined at two call sites, one with d NULL, gcc drops the
// other branch (filling 36 pointers per tile took as long as F4's transform
// at 16 channels).
#define PIXEL(d, base, rs, cs, side, i, j) ((d) ? (d)[(i) * (side) + (j)] : (base) + (i) * (rs) + (j) * (cs))

// The patch's a*a rows (or the zero row) in, V = B^T d B out to a*a
// matrices ks apart.
INLINE void winograd_input_tile(const int m, float *restrict o, long ks, const float *const *d,
		const float *base, long rs, long cs, long c) {
	const int a = m + 2;
#pragma omp simd
	for (long ch = 0; ch < c; ch++) {
		float r[6][6], col[6], t[6];
		_Pragma("GCC unroll 6")
		for (int j = 0; j < a; j++) { // B^T d, column by column
			_Pragma("GCC unroll 6")
			for (int i = 0; i < a; i++) col[i] = PIXEL(d, base, rs, cs, a, i, j)[ch];
			WINOGRAD_BT(m, t, col);
			_Pragma("GCC unroll 6")
			for (int i = 0; i < a; i++) r[i][j] = t[i];
		}
		_Pragma("GCC unroll 6")
		for (int i = 0; i < a; i++) { // (B^T d) B, row by row
			WINOGRAD_BT(m, t, r[i]);
			_Pragma("GCC unroll 6")
			for (int j = 0; j < a; j++) o[(i * a + j) * ks + ch] = t[j];
		}
	}
}

INLINE void winograd_input_tiles(const int m, float *restrict v, long ks, const float *restrict x, long ldx, long c, long images,
		long H, long W, long OH, long OW, long P, const float *restrict zero) {
	const int a = m + 2;
	long th = (OH + m - 1) / m, tw = (OW + m - 1) / m, t = 0;
	const float *d[36];
	for (long n = 0; n < images; n++) {
		for (long ti = 0; ti < th; ti++) {
			for (long tj = 0; tj < tw; tj++, t++) {
				long ih0 = m * ti - P, iw0 = m * tj - P;
				if (ih0 >= 0 && ih0 + a <= H && iw0 >= 0 && iw0 + a <= W) {
					winograd_input_tile(m, v + t * c, ks, NULL, x + ((n * H + ih0) * W + iw0) * ldx, W * ldx, ldx, c);
					continue;
				}
				for (long i = 0; i < a; i++) {
					for (long j = 0; j < a; j++) {
						long ih = ih0 + i, iw = iw0 + j;
						d[i * a + j] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x + ((n * H + ih) * W + iw) * ldx : zero;
					}
				}
				winograd_input_tile(m, v + t * c, ks, d, NULL, 0, 0, c);
			}
		}
	}
}

VEC static void vec_winograd_input(long m, float *restrict v, long ks, const float *restrict x, long ldx, long c, long images,
		long H, long W, long OH, long OW, long P, const float *restrict zero) {
	if (m == 4) {
		winograd_input_tiles(4, v, ks, x, ldx, c, images, H, W, OH, OW, P, zero);
	} else {
		winograd_input_tiles(2, v, ks, x, ldx, c, images, H, W, OH, OW, P, zero);
	}
}

// The a*a matrices ks apart in, Y = A^T M A out to the tile's m*m pixels.
// Edge tiles may send many of them to the same sink row, so the outputs
// are not restrict; one loop per operator, as a branch inside kept gcc
// from vectorizing.
INLINE void winograd_output_tile(const int m, float *const *y, float *base, long rs, long cs,
		const float *restrict mm, long ks, long c, int accumulate) {
	const int a = m + 2;
#define WINOGRAD_OUT(OP) \
	_Pragma("omp simd") \
	for (long ch = 0; ch < c; ch++) { \
		float s[4][6], col[6], t[4]; \
		_Pragma("GCC unroll 6") \
		for (int j = 0; j < a; j++) { \
			_Pragma("GCC unroll 6") \
			for (int i = 0; i < a; i++) col[i] = mm[(i * a + j) * ks + ch]; \
			WINOGRAD_AT(m, t, col); \
			_Pragma("GCC unroll 4") \
			for (int i = 0; i < m; i++) s[i][j] = t[i]; \
		} \
		_Pragma("GCC unroll 4") \
		for (int i = 0; i < m; i++) { \
			WINOGRAD_AT(m, t, s[i]); \
			_Pragma("GCC unroll 4") \
			for (int j = 0; j < m; j++) PIXEL(y, base, rs, cs, m, i, j)[ch] OP t[j]; \
		} \
	}
	if (accumulate) {
		WINOGRAD_OUT(+=)
	} else {
		WINOGRAD_OUT(=)
	}
#undef WINOGRAD_OUT
}

INLINE void winograd_output_tiles(const int m, float *y, long ldy, const float *restrict mm, long ks, long c, long images,
		long OH, long OW, int accumulate, float *sink) {
	long th = (OH + m - 1) / m, tw = (OW + m - 1) / m, t = 0;
	float *out[16];
	for (long n = 0; n < images; n++) {
		for (long ti = 0; ti < th; ti++) {
			for (long tj = 0; tj < tw; tj++, t++) {
				long oh0 = m * ti, ow0 = m * tj;
				if (oh0 + m <= OH && ow0 + m <= OW) {
					winograd_output_tile(m, NULL, y + ((n * OH + oh0) * OW + ow0) * ldy, OW * ldy, ldy, mm + t * c, ks, c, accumulate);
					continue;
				}
				for (long i = 0; i < m; i++) {
					for (long j = 0; j < m; j++) {
						long oh = oh0 + i, ow = ow0 + j;
						out[i * m + j] = (oh < OH && ow < OW) ? y + ((n * OH + oh) * OW + ow) * ldy : sink;
					}
				}
				winograd_output_tile(m, out, NULL, 0, 0, mm + t * c, ks, c, accumulate);
			}
		}
	}
}

VEC static void vec_winograd_output(long m, float *y, long ldy, const float *restrict mm, long ks, long c, long images,
		long OH, long OW, int accumulate, float *sink) {
	if (m == 4) {
		winograd_output_tiles(4, y, ldy, mm, ks, c, images, OH, OW, accumulate, sink);
	} else {
		winograd_output_tiles(2, y, ldy, mm, ks, c, images, OH, OW, accumulate, sink);
	}
}

// The tile's m*m output-gradient rows (or the zero row) in, dM = A dY A^T
// out to a*a matrices ks apart.
INLINE void winograd_output_grad_tile(const int m, float *restrict o, long ks, const float *const *d,
		const float *base, long rs, long cs, long c) {
	const int a = m + 2;
#pragma omp simd
	for (long ch = 0; ch < c; ch++) {
		float r[6][4], col[4], t[6];
		_Pragma("GCC unroll 4")
		for (int j = 0; j < m; j++) { // A dY, column by column
			_Pragma("GCC unroll 4")
			for (int i = 0; i < m; i++) col[i] = PIXEL(d, base, rs, cs, m, i, j)[ch];
			WINOGRAD_A(m, t, col);
			_Pragma("GCC unroll 6")
			for (int i = 0; i < a; i++) r[i][j] = t[i];
		}
		_Pragma("GCC unroll 6")
		for (int i = 0; i < a; i++) { // (A dY) A^T, row by row
			WINOGRAD_A(m, t, r[i]);
			_Pragma("GCC unroll 6")
			for (int j = 0; j < a; j++) o[(i * a + j) * ks + ch] = t[j];
		}
	}
}

INLINE void winograd_output_grad_tiles(const int m, float *restrict dm, long ks, const float *restrict dy, long lddy, long c, long images,
		long OH, long OW, const float *restrict zero) {
	long th = (OH + m - 1) / m, tw = (OW + m - 1) / m, t = 0;
	const float *d[16];
	for (long n = 0; n < images; n++) {
		for (long ti = 0; ti < th; ti++) {
			for (long tj = 0; tj < tw; tj++, t++) {
				long oh0 = m * ti, ow0 = m * tj;
				if (oh0 + m <= OH && ow0 + m <= OW) {
					winograd_output_grad_tile(m, dm + t * c, ks, NULL, dy + ((n * OH + oh0) * OW + ow0) * lddy, OW * lddy, lddy, c);
					continue;
				}
				for (long i = 0; i < m; i++) {
					for (long j = 0; j < m; j++) {
						long oh = oh0 + i, ow = ow0 + j;
						d[i * m + j] = (oh < OH && ow < OW) ? dy + ((n * OH + oh) * OW + ow) * lddy : zero;
					}
				}
				winograd_output_grad_tile(m, dm + t * c, ks, d, NULL, 0, 0, c);
			}
		}
	}
}

VEC static void vec_winograd_output_grad(long m, float *restrict dm, long ks, const float *restrict dy, long lddy, long c, long images,
		long OH, long OW, const float *restrict zero) {
	if (m == 4) {
		winograd_output_grad_tiles(4, dm, ks, dy, lddy, c, images, OH, OW, zero);
	} else {
		winograd_output_grad_tiles(2, dm, ks, dy, lddy, c, images, OH, OW, zero);
	}
}

// The weight transforms, vectorized over the output (or input) channel
// that is contiguous in u (or du); the kernels' nine taps are gathered (and
// the weight gradient's scattered) 9 floats apart. G is padded to 6 rows.
static const float winograd_g2[6][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
static const float winograd_g4[6][3] = {
	{1.0f / 4, 0, 0}, {-1.0f / 6, -1.0f / 6, -1.0f / 6}, {-1.0f / 6, 1.0f / 6, -1.0f / 6},
	{1.0f / 24, 1.0f / 12, 1.0f / 6}, {1.0f / 24, -1.0f / 12, 1.0f / 6}, {0, 0, 1},
};

// U = G g G^T of the kernel g (turned by 180 degrees with flip) to u[k*ku].
INLINE void winograd_weight_kernel(const int m, float *restrict u, long ku, const float *restrict g, int flip) {
	const int a = m + 2;
	const float (*G)[3] = m == 2 ? winograd_g2 : winograd_g4;
	float t[9], gg[6][3];
	_Pragma("GCC unroll 9")
	for (int j = 0; j < 9; j++) t[j] = g[flip ? 8 - j : j];
	_Pragma("GCC unroll 6")
	for (int r = 0; r < a; r++) {
		_Pragma("GCC unroll 3")
		for (int q = 0; q < 3; q++) gg[r][q] = G[r][0] * t[q] + G[r][1] * t[3 + q] + G[r][2] * t[6 + q];
	}
	_Pragma("GCC unroll 6")
	for (int r = 0; r < a; r++) {
		_Pragma("GCC unroll 6")
		for (int s = 0; s < a; s++) u[(r * a + s) * ku] = gg[r][0] * G[s][0] + gg[r][1] * G[s][1] + gg[r][2] * G[s][2];
	}
}

INLINE void winograd_weights(const int m, float *restrict u, const float *restrict w, long out, long in, int transposed) {
	if (!transposed) { // u[(k*in + i)*out + o]
		for (long i = 0; i < in; i++) {
#pragma omp simd
			for (long o = 0; o < out; o++) winograd_weight_kernel(m, u + i * out + o, in * out, w + (o * in + i) * 9, 0);
		}
	} else { // u[(k*out + o)*in + i]
		for (long i = 0; i < in; i++) {
#pragma omp simd
			for (long o = 0; o < out; o++) winograd_weight_kernel(m, u + o * in + i, in * out, w + (o * in + i) * 9, 1);
		}
	}
}

VEC static void vec_winograd_weight(long m, float *restrict u, const float *restrict w, long out, long in, int transposed) {
	if (m == 4) {
		winograd_weights(4, u, w, out, in, transposed);
	} else {
		winograd_weights(2, u, w, out, in, transposed);
	}
}

// g += G^T dU G of dU at du[k*kd].
INLINE void winograd_weight_grad_kernel(const int m, float *restrict g, const float *restrict du, long kd) {
	const int a = m + 2;
	const float (*G)[3] = m == 2 ? winograd_g2 : winograd_g4;
	float r[6][3];
	_Pragma("GCC unroll 6")
	for (int p = 0; p < a; p++) { // dU G
		_Pragma("GCC unroll 3")
		for (int q = 0; q < 3; q++) {
			float sum = 0;
			_Pragma("GCC unroll 6")
			for (int s = 0; s < a; s++) sum += du[(p * a + s) * kd] * G[s][q];
			r[p][q] = sum;
		}
	}
	_Pragma("GCC unroll 3")
	for (int p = 0; p < 3; p++) { // G^T (dU G)
		_Pragma("GCC unroll 3")
		for (int q = 0; q < 3; q++) {
			float sum = 0;
			_Pragma("GCC unroll 6")
			for (int s = 0; s < a; s++) sum += G[s][p] * r[s][q];
			g[p * 3 + q] += sum;
		}
	}
}

INLINE void winograd_weight_grads(const int m, float *restrict dw, const float *restrict du, long out, long in, int byOut) {
	if (!byOut) { // du[(k*in + i)*out + o]
		for (long i = 0; i < in; i++) {
#pragma omp simd
			for (long o = 0; o < out; o++) winograd_weight_grad_kernel(m, dw + (o * in + i) * 9, du + i * out + o, in * out);
		}
	} else { // du[(k*out + o)*in + i]
		for (long i = 0; i < in; i++) {
#pragma omp simd
			for (long o = 0; o < out; o++) winograd_weight_grad_kernel(m, dw + (o * in + i) * 9, du + o * in + i, in * out);
		}
	}
}

VEC static void vec_winograd_weight_grad(long m, float *restrict dw, const float *restrict du, long out, long in, int byOut) {
	if (m == 4) {
		winograd_weight_grads(4, dw, du, out, in, byOut);
	} else {
		winograd_weight_grads(2, dw, du, out, in, byOut);
	}
}

VEC static void vec_col2im(float *restrict x, long ldx, const float *restrict cols, long c, long images,
		long H, long W, long OH, long OW, long K, long S, long P) {
	const float *row = cols;
	for (long n = 0; n < images; n++) {
		for (long i = 0; i < OH; i++) {
			for (long j = 0; j < OW; j++, row += K * K * c) {
				for (long p = 0; p < K; p++) {
					long ih = i * S + p - P;
					if (ih < 0 || ih >= H) continue;
					for (long q = 0; q < K; q++) {
						long iw = j * S + q - P;
						if (iw < 0 || iw >= W) continue;
						float *d = x + ((n * H + ih) * W + iw) * ldx;
						const float *s = row + (p * K + q) * c;
						for (long t = 0; t < c; t++) d[t] += s[t];
					}
				}
			}
		}
	}
}

VEC static void vec_im2col(float *restrict cols, const float *restrict x, long ldx, long c, long images,
		long H, long W, long OH, long OW, long K, long S, long P) {
	long kc = K * c;
	float *row = cols;
	for (long n = 0; n < images; n++) {
		for (long i = 0; i < OH; i++) {
			for (long j = 0; j < OW; j++, row += K * kc) {
				long iw0 = j * S - P;
				for (long p = 0; p < K; p++) {
					float *seg = row + p * kc;
					long ih = i * S + p - P;
					if (ih < 0 || ih >= H) {
						for (long t = 0; t < kc; t++) seg[t] = 0;
						continue;
					}
					const float *base = x + (n * H + ih) * W * ldx;
					if (ldx == c && iw0 >= 0 && iw0 + K <= W) { // K adjacent pixels: one run
						const float *s = base + iw0 * c;
						for (long t = 0; t < kc; t++) seg[t] = s[t];
						continue;
					}
					for (long q = 0; q < K; q++) {
						float *d = seg + q * c;
						long iw = iw0 + q;
						if (iw < 0 || iw >= W) {
							for (long t = 0; t < c; t++) d[t] = 0;
						} else {
							const float *s = base + iw * ldx;
							for (long t = 0; t < c; t++) d[t] = s[t];
						}
					}
				}
			}
		}
	}
}
*/
import "C"

import "unsafe"

// Impl names the loops in use.
const Impl = "C loops (cgo)"

// The slices were checked by the exported functions, and Go memory is
// passed to C only for the call (cgo's pointer rules).

func f32(s []float32) *C.float  { return (*C.float)(unsafe.Pointer(unsafe.SliceData(s))) }
func f64(s []float64) *C.double { return (*C.double)(unsafe.Pointer(unsafe.SliceData(s))) }

// cbool is a C truth value. (f32 of a nil slice is NULL, which the C loops
// read as "no mask".)
func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func relu(y []float32, ldy int, x []float32, ldx int, rows, c int) {
	C.vec_relu(f32(y), C.long(ldy), f32(x), C.long(ldx), C.long(rows), C.long(c))
}

func reluBackward(dx []float32, lddx int, dy []float32, lddy int, y []float32, ldy int, rows, c int) {
	C.vec_relu_backward(f32(dx), C.long(lddx), f32(dy), C.long(lddy), f32(y), C.long(ldy), C.long(rows), C.long(c))
}

func affine(y []float32, ldy int, x []float32, ldx int, s []float32, lds int, k1, k0 []float32, rows, c int, relu bool) {
	C.vec_affine(f32(y), C.long(ldy), f32(x), C.long(ldx), f32(s), C.long(lds), f32(k1), f32(k0), C.long(rows), C.long(c), cbool(relu))
}

func affineGrad(dx []float32, lddx int, dy []float32, lddy int, x []float32, ldx int, k1, k2, k0, m1, m0 []float32, rows, c int, accumulate bool) {
	acc := cbool(accumulate)
	C.vec_affine_grad(f32(dx), C.long(lddx), f32(dy), C.long(lddy), f32(x), C.long(ldx), f32(k1), f32(k2), f32(k0), f32(m1), f32(m0), C.long(rows), C.long(c), acc)
}

func sumsSq(s1, s2 []float64, x []float32, ldx int, rows, c int) {
	C.vec_sums_sq(f64(s1), f64(s2), f32(x), C.long(ldx), C.long(rows), C.long(c))
}

func sumsDot(s1, s2 []float64, dy []float32, lddy int, x []float32, ldx int, m1, m0 []float32, rows, c int) {
	C.vec_sums_dot(f64(s1), f64(s2), f32(dy), C.long(lddy), f32(x), C.long(ldx), f32(m1), f32(m0), C.long(rows), C.long(c))
}

func im2col(cols []float32, x []float32, ldx, c, images int, w Window) {
	C.vec_im2col(f32(cols), f32(x), C.long(ldx), C.long(c), C.long(images),
		C.long(w.H), C.long(w.W), C.long(w.OH), C.long(w.OW), C.long(w.K), C.long(w.Stride), C.long(w.Pad))
}

func col2im(x []float32, ldx int, cols []float32, c, images int, w Window) {
	C.vec_col2im(f32(x), C.long(ldx), f32(cols), C.long(c), C.long(images),
		C.long(w.H), C.long(w.W), C.long(w.OH), C.long(w.OW), C.long(w.K), C.long(w.Stride), C.long(w.Pad))
}

func add(y []float32, ldy int, a []float32, lda int, b []float32, ldb int, rows, c int) {
	C.vec_add(f32(y), C.long(ldy), f32(a), C.long(lda), f32(b), C.long(ldb), C.long(rows), C.long(c))
}

func copyAdd(y []float32, ldy int, x []float32, ldx int, rows, c int, accumulate bool) {
	acc := cbool(accumulate)
	C.vec_copy_add(f32(y), C.long(ldy), f32(x), C.long(ldx), C.long(rows), C.long(c), acc)
}

func winogradInput(f Winograd, v []float32, x []float32, ldx, c, images int, w Window, zero []float32) {
	ks := f.Stride(f.Tiles(images, w), c)
	C.vec_winograd_input(C.long(f), f32(v), C.long(ks), f32(x), C.long(ldx), C.long(c), C.long(images),
		C.long(w.H), C.long(w.W), C.long(w.OH), C.long(w.OW), C.long(w.Pad), f32(zero))
}

func winogradOutput(f Winograd, y []float32, ldy int, m []float32, c, images int, w Window, accumulate bool, sink []float32) {
	acc := cbool(accumulate)
	ks := f.Stride(f.Tiles(images, w), c)
	C.vec_winograd_output(C.long(f), f32(y), C.long(ldy), f32(m), C.long(ks), C.long(c), C.long(images), C.long(w.OH), C.long(w.OW), acc, f32(sink))
}

func winogradOutputGrad(f Winograd, dm []float32, dy []float32, lddy, c, images int, w Window, zero []float32) {
	ks := f.Stride(f.Tiles(images, w), c)
	C.vec_winograd_output_grad(C.long(f), f32(dm), C.long(ks), f32(dy), C.long(lddy), C.long(c), C.long(images), C.long(w.OH), C.long(w.OW), f32(zero))
}

func winogradWeight(f Winograd, u, w []float32, out, in int, transposed bool) {
	tr := C.int(0)
	if transposed {
		tr = 1
	}
	C.vec_winograd_weight(C.long(f), f32(u), f32(w), C.long(out), C.long(in), tr)
}

func winogradWeightGrad(f Winograd, dw, du []float32, out, in int, byOut bool) {
	bo := C.int(0)
	if byOut {
		bo = 1
	}
	C.vec_winograd_weight_grad(C.long(f), f32(dw), f32(du), C.long(out), C.long(in), bo)
}
