//go:build cgo

package vec

/*
#cgo CFLAGS: -O3
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
			yr[j] = v < 0 ? 0 : v; // NaN stays NaN, as Go's max
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
