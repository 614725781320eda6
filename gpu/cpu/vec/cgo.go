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
			float v = xr[j];
			yr[j] = v <= 0 ? 0 : v; // as Go's max(v, 0): NaN stays NaN, -0 becomes +0
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

VEC static void vec_affine(float *y, long ldy, const float *x, long ldx, const float *restrict k1, const float *restrict k0, long rows, long c) {
	for (long r = 0; r < rows; r++) {
		float *yr = y + r * ldy;
		const float *xr = x + r * ldx;
		for (long j = 0; j < c; j++) {
			yr[j] = xr[j] * k1[j] + k0[j];
		}
	}
}

VEC static void vec_affine_grad(float *dx, long lddx, const float *dy, long lddy, const float *x, long ldx,
		const float *restrict k1, const float *restrict k2, const float *restrict k0, long rows, long c, int accumulate) {
	for (long r = 0; r < rows; r++) {
		float *dxr = dx + r * lddx;
		const float *dyr = dy + r * lddy, *xr = x + r * ldx;
		if (accumulate) {
			for (long j = 0; j < c; j++) {
				dxr[j] += dyr[j] * k1[j] + xr[j] * k2[j] + k0[j];
			}
		} else {
			for (long j = 0; j < c; j++) {
				dxr[j] = dyr[j] * k1[j] + xr[j] * k2[j] + k0[j];
			}
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

VEC static void vec_sums_dot(double *restrict s1, double *restrict s2, const float *restrict dy, long lddy,
		const float *restrict x, long ldx, long rows, long c) {
	for (long r = 0; r < rows; r++) {
		const float *dyr = dy + r * lddy, *xr = x + r * ldx;
		for (long j = 0; j < c; j++) {
			double g = dyr[j];
			s1[j] += g;
			s2[j] += g * (double)xr[j];
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

// Winograd F(2x2, 3x3): see vec.F2 (winograd.go). Inner loops run over channels, 16
// input rows (or the zero row) in, 16 matrices out, or back; the rows are
// named one by one so that gcc sees loop-invariant pointers and vectorizes.
static void winograd_input_tile(float *restrict o, long ks, const float *const *d, long c) {
	const float *restrict d00 = d[0], *restrict d01 = d[1], *restrict d02 = d[2], *restrict d03 = d[3];
	const float *restrict d10 = d[4], *restrict d11 = d[5], *restrict d12 = d[6], *restrict d13 = d[7];
	const float *restrict d20 = d[8], *restrict d21 = d[9], *restrict d22 = d[10], *restrict d23 = d[11];
	const float *restrict d30 = d[12], *restrict d31 = d[13], *restrict d32 = d[14], *restrict d33 = d[15];
	float *restrict o0 = o, *restrict o1 = o + ks, *restrict o2 = o + 2 * ks, *restrict o3 = o + 3 * ks;
	float *restrict o4 = o + 4 * ks, *restrict o5 = o + 5 * ks, *restrict o6 = o + 6 * ks, *restrict o7 = o + 7 * ks;
	float *restrict o8 = o + 8 * ks, *restrict o9 = o + 9 * ks, *restrict o10 = o + 10 * ks, *restrict o11 = o + 11 * ks;
	float *restrict o12 = o + 12 * ks, *restrict o13 = o + 13 * ks, *restrict o14 = o + 14 * ks, *restrict o15 = o + 15 * ks;
	// gcc 12 does not vectorize this loop on its own ("no vectype"); with
	// 32 restrict streams it is safe to tell it to.
#pragma omp simd
	for (long ch = 0; ch < c; ch++) {
		// B^T d, column by column: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3
		float r00 = d00[ch] - d20[ch], r01 = d01[ch] - d21[ch], r02 = d02[ch] - d22[ch], r03 = d03[ch] - d23[ch];
		float r10 = d10[ch] + d20[ch], r11 = d11[ch] + d21[ch], r12 = d12[ch] + d22[ch], r13 = d13[ch] + d23[ch];
		float r20 = d20[ch] - d10[ch], r21 = d21[ch] - d11[ch], r22 = d22[ch] - d12[ch], r23 = d23[ch] - d13[ch];
		float r30 = d10[ch] - d30[ch], r31 = d11[ch] - d31[ch], r32 = d12[ch] - d32[ch], r33 = d13[ch] - d33[ch];
		// (B^T d) B, row by row
		o0[ch] = r00 - r02; o1[ch] = r01 + r02; o2[ch] = r02 - r01; o3[ch] = r01 - r03;
		o4[ch] = r10 - r12; o5[ch] = r11 + r12; o6[ch] = r12 - r11; o7[ch] = r11 - r13;
		o8[ch] = r20 - r22; o9[ch] = r21 + r22; o10[ch] = r22 - r21; o11[ch] = r21 - r23;
		o12[ch] = r30 - r32; o13[ch] = r31 + r32; o14[ch] = r32 - r31; o15[ch] = r31 - r33;
	}
}

VEC static void vec_winograd_input(float *restrict v, const float *restrict x, long ldx, long c, long images,
		long H, long W, long OH, long OW, long P, const float *restrict zero) {
	long th = (OH + 1) / 2, tw = (OW + 1) / 2, T = images * th * tw, t = 0;
	const float *d[16];
	for (long n = 0; n < images; n++) {
		for (long ti = 0; ti < th; ti++) {
			for (long tj = 0; tj < tw; tj++, t++) {
				for (long a = 0; a < 4; a++) {
					for (long b = 0; b < 4; b++) {
						long ih = 2 * ti - P + a, iw = 2 * tj - P + b;
						d[a * 4 + b] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x + ((n * H + ih) * W + iw) * ldx : zero;
					}
				}
				winograd_input_tile(v + t * c, T * c + 16, d, c);
			}
		}
	}
}

// The four outputs of a tile may all be the same sink row (edge tiles), so
// they are not restrict; m is. A^T M takes rows m0 + m1 + m2 and
// m1 - m2 - m3, column by column; (A^T M) A does the same along rows.
static void winograd_output_tile(float *y00, float *y01, float *y10, float *y11, const float *restrict m, long ks, long c, int accumulate) {
	const float *restrict m0 = m, *restrict m1 = m + ks, *restrict m2 = m + 2 * ks, *restrict m3 = m + 3 * ks;
	const float *restrict m4 = m + 4 * ks, *restrict m5 = m + 5 * ks, *restrict m6 = m + 6 * ks, *restrict m7 = m + 7 * ks;
	const float *restrict m8 = m + 8 * ks, *restrict m9 = m + 9 * ks, *restrict m10 = m + 10 * ks, *restrict m11 = m + 11 * ks;
	const float *restrict m12 = m + 12 * ks, *restrict m13 = m + 13 * ks, *restrict m14 = m + 14 * ks, *restrict m15 = m + 15 * ks;
#define WINOGRAD_OUT(OP) \
	for (long ch = 0; ch < c; ch++) { \
		float s00 = m0[ch] + m4[ch] + m8[ch], s01 = m1[ch] + m5[ch] + m9[ch]; \
		float s02 = m2[ch] + m6[ch] + m10[ch], s03 = m3[ch] + m7[ch] + m11[ch]; \
		float s10 = m4[ch] - m8[ch] - m12[ch], s11 = m5[ch] - m9[ch] - m13[ch]; \
		float s12 = m6[ch] - m10[ch] - m14[ch], s13 = m7[ch] - m11[ch] - m15[ch]; \
		y00[ch] OP s00 + s01 + s02; \
		y01[ch] OP s01 - s02 - s03; \
		y10[ch] OP s10 + s11 + s12; \
		y11[ch] OP s11 - s12 - s13; \
	}
	if (accumulate) {
		WINOGRAD_OUT(+=)
	} else {
		WINOGRAD_OUT(=)
	}
#undef WINOGRAD_OUT
}

VEC static void vec_winograd_output(float *y, long ldy, const float *restrict m, long c, long images,
		long OH, long OW, int accumulate, float *sink) {
	long th = (OH + 1) / 2, tw = (OW + 1) / 2, T = images * th * tw, t = 0;
	for (long n = 0; n < images; n++) {
		for (long ti = 0; ti < th; ti++) {
			for (long tj = 0; tj < tw; tj++, t++) {
				float *out[4];
				for (long a = 0; a < 2; a++) {
					for (long b = 0; b < 2; b++) {
						long oh = 2 * ti + a, ow = 2 * tj + b;
						out[a * 2 + b] = (oh < OH && ow < OW) ? y + ((n * OH + oh) * OW + ow) * ldy : sink;
					}
				}
				winograd_output_tile(out[0], out[1], out[2], out[3], m + t * c, T * c + 16, c, accumulate);
			}
		}
	}
}

// dM = A dY A^T of a tile's four output-gradient rows (or the zero row).
static void winograd_output_grad_tile(float *restrict o, long ks, const float *restrict y00, const float *restrict y01,
		const float *restrict y10, const float *restrict y11, long c) {
	float *restrict o0 = o, *restrict o1 = o + ks, *restrict o2 = o + 2 * ks, *restrict o3 = o + 3 * ks;
	float *restrict o4 = o + 4 * ks, *restrict o5 = o + 5 * ks, *restrict o6 = o + 6 * ks, *restrict o7 = o + 7 * ks;
	float *restrict o8 = o + 8 * ks, *restrict o9 = o + 9 * ks, *restrict o10 = o + 10 * ks, *restrict o11 = o + 11 * ks;
	float *restrict o12 = o + 12 * ks, *restrict o13 = o + 13 * ks, *restrict o14 = o + 14 * ks, *restrict o15 = o + 15 * ks;
#pragma omp simd
	for (long ch = 0; ch < c; ch++) {
		// A dY: rows y0, y0 + y1, y0 - y1, -y1, column by column
		float r00 = y00[ch], r01 = y01[ch];
		float r10 = y00[ch] + y10[ch], r11 = y01[ch] + y11[ch];
		float r20 = y00[ch] - y10[ch], r21 = y01[ch] - y11[ch];
		float r30 = -y10[ch], r31 = -y11[ch];
		// (A dY) A^T, row by row
		o0[ch] = r00; o1[ch] = r00 + r01; o2[ch] = r00 - r01; o3[ch] = -r01;
		o4[ch] = r10; o5[ch] = r10 + r11; o6[ch] = r10 - r11; o7[ch] = -r11;
		o8[ch] = r20; o9[ch] = r20 + r21; o10[ch] = r20 - r21; o11[ch] = -r21;
		o12[ch] = r30; o13[ch] = r30 + r31; o14[ch] = r30 - r31; o15[ch] = -r31;
	}
}

VEC static void vec_winograd_output_grad(float *restrict dm, const float *restrict dy, long lddy, long c, long images,
		long OH, long OW, const float *restrict zero) {
	long th = (OH + 1) / 2, tw = (OW + 1) / 2, T = images * th * tw, t = 0;
	for (long n = 0; n < images; n++) {
		for (long ti = 0; ti < th; ti++) {
			for (long tj = 0; tj < tw; tj++, t++) {
				const float *d[4];
				for (long k = 0; k < 4; k++) {
					long oh = 2 * ti + k / 2, ow = 2 * tj + k % 2;
					d[k] = (oh < OH && ow < OW) ? dy + ((n * OH + oh) * OW + ow) * lddy : zero;
				}
				winograd_output_grad_tile(dm + t * c, T * c + 16, d[0], d[1], d[2], d[3], c);
			}
		}
	}
}

// Winograd F(4x4, 3x3): 6x6 patches in, 36 matrices out, or back. The
// 36 (or 16) rows are read through arrays of pointers, and omp simd
// vectorizes over channels once the loops over the tile are unrolled, which
// gcc 12 does only when told to (without it, these loops ran 8x slower).
// Each 1-D transform is written out with its small integer coefficients
// (see vec.F4). The tile functions must be inlined into the cloned loops
// over tiles, or they run as the baseline's SSE code (1.7x slower).

// y = B^T x for x, y of 6 values
#define F4_BT(y, x) do { \
	y[0] = 4 * x[0] - 5 * x[2] + x[4]; \
	y[1] = x[3] + x[4] - 4 * (x[1] + x[2]); \
	y[2] = x[4] - x[3] + 4 * (x[1] - x[2]); \
	y[3] = x[4] - x[2] + 2 * (x[3] - x[1]); \
	y[4] = x[4] - x[2] - 2 * (x[3] - x[1]); \
	y[5] = 4 * x[1] - 5 * x[3] + x[5]; \
} while (0)

// y = A^T x for x of 6 values, y of 4
#define F4_AT(y, x) do { \
	float p12 = x[1] + x[2], m12 = x[1] - x[2], p34 = x[3] + x[4], m34 = x[3] - x[4]; \
	y[0] = x[0] + p12 + p34; \
	y[1] = m12 + 2 * m34; \
	y[2] = p12 + 4 * p34; \
	y[3] = m12 + 8 * m34 + x[5]; \
} while (0)

// y = A x for x of 4 values, y of 6
#define F4_A(y, x) do { \
	float p02 = x[0] + x[2], p13 = x[1] + x[3], q02 = x[0] + 4 * x[2], q13 = 2 * x[1] + 8 * x[3]; \
	y[0] = x[0]; \
	y[1] = p02 + p13; \
	y[2] = p02 - p13; \
	y[3] = q02 + q13; \
	y[4] = q02 - q13; \
	y[5] = x[3]; \
} while (0)

// The tile functions read (or write) the patch's pixel (a, b) at d[a*side+b]
// for edge tiles, and at base + a*rs + b*cs for tiles inside the image:
// inlined at two call sites, one with d NULL, gcc drops the other branch
// (filling 36 pointers per tile took as long as the transform at 16
// channels).
#define PIXEL(d, base, rs, cs, side, a, b) ((d) ? (d)[(a) * (side) + (b)] : (base) + (a) * (rs) + (b) * (cs))

static inline __attribute__((always_inline)) void winograd4_input_tile(float *restrict o, long ks, const float *const *d,
		const float *base, long rs, long cs, long c) {
#pragma omp simd
	for (long ch = 0; ch < c; ch++) {
		float r[6][6], col[6], t[6];
		_Pragma("GCC unroll 6")
		for (int b = 0; b < 6; b++) { // B^T d, column by column
			_Pragma("GCC unroll 6")
			for (int a = 0; a < 6; a++) col[a] = PIXEL(d, base, rs, cs, 6, a, b)[ch];
			F4_BT(t, col);
			_Pragma("GCC unroll 6")
			for (int a = 0; a < 6; a++) r[a][b] = t[a];
		}
		_Pragma("GCC unroll 6")
		for (int a = 0; a < 6; a++) { // (B^T d) B, row by row
			F4_BT(t, r[a]);
			_Pragma("GCC unroll 6")
			for (int b = 0; b < 6; b++) o[(a * 6 + b) * ks + ch] = t[b];
		}
	}
}

VEC static void vec_winograd4_input(float *restrict v, const float *restrict x, long ldx, long c, long images,
		long H, long W, long OH, long OW, long P, const float *restrict zero) {
	long th = (OH + 3) / 4, tw = (OW + 3) / 4, T = images * th * tw, t = 0;
	const float *d[36];
	for (long n = 0; n < images; n++) {
		for (long ti = 0; ti < th; ti++) {
			for (long tj = 0; tj < tw; tj++, t++) {
				long ih0 = 4 * ti - P, iw0 = 4 * tj - P;
				if (ih0 >= 0 && ih0 + 6 <= H && iw0 >= 0 && iw0 + 6 <= W) {
					winograd4_input_tile(v + t * c, T * c + 16, NULL, x + ((n * H + ih0) * W + iw0) * ldx, W * ldx, ldx, c);
					continue;
				}
				for (long a = 0; a < 6; a++) {
					for (long b = 0; b < 6; b++) {
						long ih = ih0 + a, iw = iw0 + b;
						d[a * 6 + b] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x + ((n * H + ih) * W + iw) * ldx : zero;
					}
				}
				winograd4_input_tile(v + t * c, T * c + 16, d, NULL, 0, 0, c);
			}
		}
	}
}

// The 16 outputs of a tile may include the sink row many times over, so
// they are not restrict.
static inline __attribute__((always_inline)) void winograd4_output_tile(float *const *y, float *base, long rs, long cs,
		const float *restrict m, long ks, long c, int accumulate) {
	// One loop per operator (a branch inside kept gcc from vectorizing):
	// A^T M column by column, then (A^T M) A row by row.
#define WINOGRAD4_OUT(OP) \
	_Pragma("omp simd") \
	for (long ch = 0; ch < c; ch++) { \
		float s[4][6], col[6], t[4]; \
		_Pragma("GCC unroll 6") \
		for (int b = 0; b < 6; b++) { \
			_Pragma("GCC unroll 6") \
			for (int a = 0; a < 6; a++) col[a] = m[(a * 6 + b) * ks + ch]; \
			F4_AT(t, col); \
			_Pragma("GCC unroll 4") \
			for (int a = 0; a < 4; a++) s[a][b] = t[a]; \
		} \
		_Pragma("GCC unroll 4") \
		for (int a = 0; a < 4; a++) { \
			F4_AT(t, s[a]); \
			_Pragma("GCC unroll 4") \
			for (int b = 0; b < 4; b++) PIXEL(y, base, rs, cs, 4, a, b)[ch] OP t[b]; \
		} \
	}
	if (accumulate) {
		WINOGRAD4_OUT(+=)
	} else {
		WINOGRAD4_OUT(=)
	}
#undef WINOGRAD4_OUT
}

VEC static void vec_winograd4_output(float *y, long ldy, const float *restrict m, long c, long images,
		long OH, long OW, int accumulate, float *sink) {
	long th = (OH + 3) / 4, tw = (OW + 3) / 4, T = images * th * tw, t = 0;
	float *out[16];
	for (long n = 0; n < images; n++) {
		for (long ti = 0; ti < th; ti++) {
			for (long tj = 0; tj < tw; tj++, t++) {
				if (4 * ti + 4 <= OH && 4 * tj + 4 <= OW) {
					float *base = y + ((n * OH + 4 * ti) * OW + 4 * tj) * ldy;
					winograd4_output_tile(NULL, base, OW * ldy, ldy, m + t * c, T * c + 16, c, accumulate);
					continue;
				}
				for (long a = 0; a < 4; a++) {
					for (long b = 0; b < 4; b++) {
						long oh = 4 * ti + a, ow = 4 * tj + b;
						out[a * 4 + b] = (oh < OH && ow < OW) ? y + ((n * OH + oh) * OW + ow) * ldy : sink;
					}
				}
				winograd4_output_tile(out, NULL, 0, 0, m + t * c, T * c + 16, c, accumulate);
			}
		}
	}
}

static inline __attribute__((always_inline)) void winograd4_output_grad_tile(float *restrict o, long ks, const float *const *d,
		const float *base, long rs, long cs, long c) {
#pragma omp simd
	for (long ch = 0; ch < c; ch++) {
		float r[6][4], col[4], t[6];
		_Pragma("GCC unroll 6")
		for (int b = 0; b < 4; b++) { // A dY, column by column
			_Pragma("GCC unroll 6")
			for (int a = 0; a < 4; a++) col[a] = PIXEL(d, base, rs, cs, 4, a, b)[ch];
			F4_A(t, col);
			_Pragma("GCC unroll 6")
			for (int a = 0; a < 6; a++) r[a][b] = t[a];
		}
		_Pragma("GCC unroll 6")
		for (int a = 0; a < 6; a++) { // (A dY) A^T, row by row
			F4_A(t, r[a]);
			_Pragma("GCC unroll 6")
			for (int b = 0; b < 6; b++) o[(a * 6 + b) * ks + ch] = t[b];
		}
	}
}

VEC static void vec_winograd4_output_grad(float *restrict dm, const float *restrict dy, long lddy, long c, long images,
		long OH, long OW, const float *restrict zero) {
	long th = (OH + 3) / 4, tw = (OW + 3) / 4, T = images * th * tw, t = 0;
	const float *d[16];
	for (long n = 0; n < images; n++) {
		for (long ti = 0; ti < th; ti++) {
			for (long tj = 0; tj < tw; tj++, t++) {
				if (4 * ti + 4 <= OH && 4 * tj + 4 <= OW) {
					const float *base = dy + ((n * OH + 4 * ti) * OW + 4 * tj) * lddy;
					winograd4_output_grad_tile(dm + t * c, T * c + 16, NULL, base, OW * lddy, lddy, c);
					continue;
				}
				for (long k = 0; k < 16; k++) {
					long oh = 4 * ti + k / 4, ow = 4 * tj + k % 4;
					d[k] = (oh < OH && ow < OW) ? dy + ((n * OH + oh) * OW + ow) * lddy : zero;
				}
				winograd4_output_grad_tile(dm + t * c, T * c + 16, d, NULL, 0, 0, c);
			}
		}
	}
}

// Each transform for algorithm m (2 or 4, see vec.Winograd).
static void winograd_input(long m, float *v, const float *x, long ldx, long c, long images,
		long H, long W, long OH, long OW, long P, const float *zero) {
	if (m == 4) {
		vec_winograd4_input(v, x, ldx, c, images, H, W, OH, OW, P, zero);
	} else {
		vec_winograd_input(v, x, ldx, c, images, H, W, OH, OW, P, zero);
	}
}

static void winograd_output(long m, float *y, long ldy, const float *mm, long c, long images,
		long OH, long OW, int accumulate, float *sink) {
	if (m == 4) {
		vec_winograd4_output(y, ldy, mm, c, images, OH, OW, accumulate, sink);
	} else {
		vec_winograd_output(y, ldy, mm, c, images, OH, OW, accumulate, sink);
	}
}

static void winograd_output_grad(long m, float *dm, const float *dy, long lddy, long c, long images,
		long OH, long OW, const float *zero) {
	if (m == 4) {
		vec_winograd4_output_grad(dm, dy, lddy, c, images, OH, OW, zero);
	} else {
		vec_winograd_output_grad(dm, dy, lddy, c, images, OH, OW, zero);
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

func relu(y []float32, ldy int, x []float32, ldx int, rows, c int) {
	C.vec_relu(f32(y), C.long(ldy), f32(x), C.long(ldx), C.long(rows), C.long(c))
}

func reluBackward(dx []float32, lddx int, dy []float32, lddy int, y []float32, ldy int, rows, c int) {
	C.vec_relu_backward(f32(dx), C.long(lddx), f32(dy), C.long(lddy), f32(y), C.long(ldy), C.long(rows), C.long(c))
}

func affine(y []float32, ldy int, x []float32, ldx int, k1, k0 []float32, rows, c int) {
	C.vec_affine(f32(y), C.long(ldy), f32(x), C.long(ldx), f32(k1), f32(k0), C.long(rows), C.long(c))
}

func affineGrad(dx []float32, lddx int, dy []float32, lddy int, x []float32, ldx int, k1, k2, k0 []float32, rows, c int, accumulate bool) {
	acc := C.int(0)
	if accumulate {
		acc = 1
	}
	C.vec_affine_grad(f32(dx), C.long(lddx), f32(dy), C.long(lddy), f32(x), C.long(ldx), f32(k1), f32(k2), f32(k0), C.long(rows), C.long(c), acc)
}

func sumsSq(s1, s2 []float64, x []float32, ldx int, rows, c int) {
	C.vec_sums_sq(f64(s1), f64(s2), f32(x), C.long(ldx), C.long(rows), C.long(c))
}

func sumsDot(s1, s2 []float64, dy []float32, lddy int, x []float32, ldx int, rows, c int) {
	C.vec_sums_dot(f64(s1), f64(s2), f32(dy), C.long(lddy), f32(x), C.long(ldx), C.long(rows), C.long(c))
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
	acc := C.int(0)
	if accumulate {
		acc = 1
	}
	C.vec_copy_add(f32(y), C.long(ldy), f32(x), C.long(ldx), C.long(rows), C.long(c), acc)
}

func winogradInput(f Winograd, v []float32, x []float32, ldx, c, images int, w Window, zero []float32) {
	C.winograd_input(C.long(f), f32(v), f32(x), C.long(ldx), C.long(c), C.long(images),
		C.long(w.H), C.long(w.W), C.long(w.OH), C.long(w.OW), C.long(w.Pad), f32(zero))
}

func winogradOutput(f Winograd, y []float32, ldy int, m []float32, c, images int, w Window, accumulate bool, sink []float32) {
	acc := C.int(0)
	if accumulate {
		acc = 1
	}
	C.winograd_output(C.long(f), f32(y), C.long(ldy), f32(m), C.long(c), C.long(images), C.long(w.OH), C.long(w.OW), acc, f32(sink))
}

func winogradOutputGrad(f Winograd, dm []float32, dy []float32, lddy, c, images int, w Window, zero []float32) {
	C.winograd_output_grad(C.long(f), f32(dm), f32(dy), C.long(lddy), C.long(c), C.long(images), C.long(w.OH), C.long(w.OW), f32(zero))
}
