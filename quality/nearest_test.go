package quality

import (
	"context"
	"math"
	"strings"
	"testing"
)

// pixels makes a set of 1x1 images from RGB triples.
func pixels(rgb ...[3]float32) Set {
	s := Set{Height: 1, Width: 1}
	for _, p := range rgb {
		s.Images = append(s.Images, []float32{p[0], p[1], p[2]})
	}
	return s
}

func TestNearestNeighbours(t *testing.T) {
	refs := pixels([3]float32{0, 0, 0}, [3]float32{1, 1, 1}, [3]float32{0, 0, 0.5}, [3]float32{1, 1, 1})
	queries := pixels([3]float32{0, 0, 0}, [3]float32{0.9, 1, 1}, [3]float32{0, 0.3, 0.4}, [3]float32{1, 1, 1}, [3]float32{-1, -1, -1})
	want := []Neighbour{
		{0, 0},
		{1, 0.1},
		{2, math.Sqrt(0.09 + 0.01)},
		{1, 0}, // the first of two equal references
		{0, math.Sqrt(3)},
	}
	for _, workers := range []int{0, 1, 4} {
		got, err := NearestNeighbours(context.Background(), queries, refs, workers)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i].Index != want[i].Index || math.Abs(got[i].Distance-want[i].Distance) > 1e-6 {
				t.Errorf("workers %d: query %d: got %+v, want %+v", workers, i, got[i], want[i])
			}
		}
	}
}

func TestNearestNeighboursErrors(t *testing.T) {
	one := pixels([3]float32{0, 0, 0})
	for _, tc := range []struct {
		name    string
		q, r    Set
		workers int
		want    string
	}{
		{"no queries", Set{Height: 1, Width: 1}, one, 0, "query images: no images"},
		{"no references", one, Set{Height: 1, Width: 1}, 0, "reference images: no images"},
		{"size mismatch", one, blobs(1, 1, 16, 16), 0, "query images are 1x1 but reference images 16x16"},
		{"negative workers", one, one, -1, "worker count -1"},
	} {
		_, err := NearestNeighbours(context.Background(), tc.q, tc.r, tc.workers)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestMemorisationRatio(t *testing.T) {
	n := func(d ...float64) []Neighbour {
		var out []Neighbour
		for _, v := range d {
			out = append(out, Neighbour{Distance: v})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		gen, hel []Neighbour
		want     float64
		err      string
	}{
		{"no memorisation", n(2, 4), n(3), 1, ""},
		{"copies", n(0, 0, 1.5), n(3, 2), 0.2, ""},
		{"further than real", n(6), n(2, 4), 2, ""},
		{"empty", nil, n(1), 0, "needs distances on both sides"},
		{"held-out copies", n(1), n(0, 0), 0, "exact copies"},
	} {
		got, err := MemorisationRatio(tc.gen, tc.hel)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: MemorisationRatio = %g, %v; want %g", tc.name, got, err, tc.want)
		}
	}
}
