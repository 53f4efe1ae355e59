package training

import "math"

// couple re-pairs the noise rows of x0 with the images of x1 ([batch, dim]
// each) by the assignment minimising the total squared distance (minibatch
// optimal transport, Tong et al. 2023; Pooladian et al. 2023), in place.
// With labels (nil: none) the images are paired only with noise rows of the
// same class's positions, so every label keeps its own images. The result is
// deterministic: it depends only on the values.
func couple(x0, x1 []float32, labels []int, batch, dim int) {
	groups := map[int][]int{}
	var order []int
	for i := range batch {
		l := 0
		if labels != nil {
			l = labels[i]
		}
		if _, ok := groups[l]; !ok {
			order = append(order, l)
		}
		groups[l] = append(groups[l], i)
	}
	orig := append([]float32(nil), x0[:batch*dim]...)
	for _, l := range order {
		idx := groups[l]
		n := len(idx)
		if n < 2 {
			continue
		}
		cost := make([][]float64, n)
		for a, i := range idx {
			cost[a] = make([]float64, n)
			xi := x1[i*dim : (i+1)*dim]
			for b, j := range idx {
				zj := orig[j*dim : (j+1)*dim]
				var s float64
				for k, v := range xi {
					d := float64(v) - float64(zj[k])
					s += d * d
				}
				cost[a][b] = s
			}
		}
		assign := hungarian(cost)
		for a, i := range idx {
			copy(x0[i*dim:(i+1)*dim], orig[idx[assign[a]]*dim:(idx[assign[a]]+1)*dim])
		}
	}
}

// hungarian solves the square assignment problem: it returns p with p[i] the
// column given to row i, minimising sum_i cost[i][p[i]] (the shortest
// augmenting path method with potentials, O(n^3)).
func hungarian(cost [][]float64) []int {
	n := len(cost)
	u := make([]float64, n+1)
	v := make([]float64, n+1)
	p := make([]int, n+1) // p[j]: row (1-based) matched to column j; column 0 is a sentinel
	way := make([]int, n+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		minv := make([]float64, n+1)
		used := make([]bool, n+1)
		for j := range minv {
			minv[j] = math.Inf(1)
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], math.Inf(1), 0
			for j := 1; j <= n; j++ {
				if used[j] {
					continue
				}
				cur := cost[i0-1][j-1] - u[i0] - v[j]
				if cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= n; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	out := make([]int, n)
	for j := 1; j <= n; j++ {
		out[p[j]-1] = j - 1
	}
	return out
}
