package gemm

// Block sizes: an A panel of mc x kc and a B panel of kc x nc stay in the
// L2 cache; 4 rows of C (4 x nc) stay in L1 while the kernel sweeps them.
const (
	mcBlock = 64
	kcBlock = 256
	ncBlock = 512
)

type pureGo struct {
	ap []float32 // packed alpha*op(A) block, row-major mc x kc
	bp []float32 // packed op(B) block, row-major kc x nc
}

// PureGo returns a new pure-Go Impl with its own scratch.
func PureGo() Impl {
	return &pureGo{ap: make([]float32, mcBlock*kcBlock), bp: make([]float32, kcBlock*ncBlock)}
}

func (g *pureGo) Name() string { return "pure-go" }

func (g *pureGo) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if k == 0 || alpha == 0 {
		return
	}
	for j0 := 0; j0 < n; j0 += ncBlock {
		nc := min(ncBlock, n-j0)
		for p0 := 0; p0 < k; p0 += kcBlock {
			kc := min(kcBlock, k-p0)
			g.packB(transB, b, ldb, p0, kc, j0, nc)
			for i0 := 0; i0 < m; i0 += mcBlock {
				mc := min(mcBlock, m-i0)
				g.packA(transA, a, lda, alpha, i0, mc, p0, kc)
				g.kernel(c, ldc, i0, mc, j0, nc, kc)
			}
		}
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] row-major into bp.
func (g *pureGo) packB(trans bool, b []float32, ldb, p0, kc, j0, nc int) {
	for p := 0; p < kc; p++ {
		dst := g.bp[p*nc : (p+1)*nc]
		if !trans {
			copy(dst, b[(p0+p)*ldb+j0:])
			continue
		}
		for j := range dst {
			dst[j] = b[(j0+j)*ldb+p0+p]
		}
	}
}

// packA copies alpha*op(A)[i0:i0+mc, p0:p0+kc] row-major into ap.
func (g *pureGo) packA(trans bool, a []float32, lda int, alpha float32, i0, mc, p0, kc int) {
	for i := 0; i < mc; i++ {
		dst := g.ap[i*kc : (i+1)*kc]
		if !trans {
			src := a[(i0+i)*lda+p0 : (i0+i)*lda+p0+kc]
			for p, v := range src {
				dst[p] = alpha * v
			}
			continue
		}
		for p := range dst {
			dst[p] = alpha * a[(p0+p)*lda+i0+i]
		}
	}
}

// kernel adds ap (mc x kc) times bp (kc x nc) into C, four rows of C at a
// time so that each row of bp is loaded once per four rows.
func (g *pureGo) kernel(c []float32, ldc, i0, mc, j0, nc, kc int) {
	i := 0
	for ; i+4 <= mc; i += 4 {
		c0 := c[(i0+i)*ldc+j0 : (i0+i)*ldc+j0+nc]
		c1 := c[(i0+i+1)*ldc+j0 : (i0+i+1)*ldc+j0+nc]
		c2 := c[(i0+i+2)*ldc+j0 : (i0+i+2)*ldc+j0+nc]
		c3 := c[(i0+i+3)*ldc+j0 : (i0+i+3)*ldc+j0+nc]
		a0 := g.ap[i*kc : (i+1)*kc]
		a1 := g.ap[(i+1)*kc : (i+2)*kc]
		a2 := g.ap[(i+2)*kc : (i+3)*kc]
		a3 := g.ap[(i+3)*kc : (i+4)*kc]
		for p := 0; p < kc; p++ {
			x0, x1, x2, x3 := a0[p], a1[p], a2[p], a3[p]
			brow := g.bp[p*nc : (p+1)*nc]
			c0, c1, c2, c3 := c0[:len(brow)], c1[:len(brow)], c2[:len(brow)], c3[:len(brow)]
			for j, v := range brow {
				c0[j] += x0 * v
				c1[j] += x1 * v
				c2[j] += x2 * v
				c3[j] += x3 * v
			}
		}
	}
	for ; i < mc; i++ {
		ci := c[(i0+i)*ldc+j0 : (i0+i)*ldc+j0+nc]
		ai := g.ap[i*kc : (i+1)*kc]
		for p := 0; p < kc; p++ {
			x := ai[p]
			brow := g.bp[p*nc : (p+1)*nc]
			ci := ci[:len(brow)]
			for j, v := range brow {
				ci[j] += x * v
			}
		}
	}
}
