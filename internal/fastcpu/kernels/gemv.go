package kernels

// Matrix-vector products (m == 1 or n == 1) skip packing: every element of the
// matrix is used once, so packing would cost more than the arithmetic. They run
// as dot products or as sums of scaled rows (axpy), serially, since they are
// limited by memory bandwidth rather than arithmetic.

// isGemv reports whether j is a matrix-vector product handled by gemv.
func (j *job) isGemv() bool { return (j.m == 1 || j.n == 1) && j.k > 0 && j.alpha != 0 }

// gemv computes batch entry e of a matrix-vector job j on worker wk.
func (wk *worker) gemv(j *job, e int) {
	a := j.a[e*j.sa:]
	b := j.b[e*j.sb:]
	c := j.c[e*j.sc:]
	k := wk.kern
	if j.n == 1 {
		// c[i] = Σ_p op(A)[i, p] · op(B)[p, 0]
		bv := vector(b, j.k, j.ldb, bool(!j.tB), &wk.packB)
		if !j.tA {
			for i := 0; i < j.m; i++ {
				s := j.alpha * k.dot(a[i*j.lda:i*j.lda+j.k], bv)
				setC(&c[i*j.ldc], s, j.beta)
			}
			return
		}
		acc := wk.accumulator(j.m)
		for p := 0; p < j.k; p++ {
			k.axpy(bv[p], a[p*j.lda:p*j.lda+j.m], acc)
		}
		for i, v := range acc {
			setC(&c[i*j.ldc], j.alpha*v, j.beta)
		}
		return
	}
	// m == 1: c[0, x] = Σ_p op(A)[0, p] · op(B)[p, x]
	av := vector(a, j.k, j.lda, bool(j.tA), &wk.packA)
	if j.tB {
		for x := 0; x < j.n; x++ {
			setC(&c[x], j.alpha*k.dot(av, b[x*j.ldb:x*j.ldb+j.k]), j.beta)
		}
		return
	}
	acc := wk.accumulator(j.n)
	for p := 0; p < j.k; p++ {
		k.axpy(av[p], b[p*j.ldb:p*j.ldb+j.n], acc)
	}
	for x, v := range acc {
		setC(&c[x], j.alpha*v, j.beta)
	}
}

// vector returns the k elements x[0], x[ld], x[2·ld], ... (contiguous when
// strided is false), gathering them into *buf when they are not contiguous.
func vector(x []float32, k, ld int, strided bool, buf *[]float32) []float32 {
	if !strided || ld == 1 || k == 1 {
		return x[:k]
	}
	if len(*buf) < k {
		*buf = make([]float32, k)
	}
	v := (*buf)[:k]
	for p := range v {
		v[p] = x[p*ld]
	}
	return v
}

// accumulator returns a zeroed scratch vector of n elements.
func (wk *worker) accumulator(n int) []float32 {
	if len(wk.acc) < n {
		wk.acc = make([]float32, n)
	}
	v := wk.acc[:n]
	clear(v)
	return v
}

// setC sets *c = v + beta·*c (just v when beta is 0).
func setC(c *float32, v, beta float32) {
	if beta == 0 {
		*c = v
	} else {
		*c = v + beta**c
	}
}
