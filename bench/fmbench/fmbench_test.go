package fmbench

import (
	"bytes"
	"strings"
	"testing"
)

func TestParsePoints(t *testing.T) {
	pts, err := ParsePoints("16@32, 64@32,16@64")
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{{16, 32}, {64, 32}, {16, 64}}
	if len(pts) != len(want) {
		t.Fatalf("got %v, want %v", pts, want)
	}
	for i := range want {
		if pts[i] != want[i] {
			t.Fatalf("got %v, want %v", pts, want)
		}
	}
	for _, bad := range []string{"", "16", "16@", "0@32", "16@4", "a@32"} {
		if _, err := ParsePoints(bad); err == nil {
			t.Errorf("ParsePoints(%q) succeeded", bad)
		}
	}
}

// TestRunSmall runs the whole benchmark at a tiny point on fastcpu only and checks the report.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("trains ref-unet-32 for a few steps")
	}
	var out bytes.Buffer
	res, err := Run(Options{Backends: []string{"fastcpu"}, Points: []Point{{2, 32}}, Steps: 1, SampleBatch: 1, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].SecPerStep <= 0 || res[0].SampleImgPS <= 0 {
		t.Fatalf("results %+v", res)
	}
	if !strings.Contains(out.String(), "fastcpu") || !strings.Contains(out.String(), "PyTorch peer skipped") {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestMedians(t *testing.T) {
	a, b := Point{16, 32}, Point{64, 32}
	all := []Result{
		{Backend: "fastcpu", Point: a, SecPerStep: 3, SampleImgPS: 10},
		{Backend: "pytorch", Point: a, SecPerStep: 2},
		{Backend: "fastcpu", Point: b, SecPerStep: 9},
		{Backend: "fastcpu", Point: a, SecPerStep: 1, SampleImgPS: 30},
		{Backend: "fastcpu", Point: a, SecPerStep: 2, SampleImgPS: 20},
	}
	got := medians(all)
	if len(got) != 3 {
		t.Fatalf("got %d groups, want 3: %+v", len(got), got)
	}
	if got[0].Backend != "fastcpu" || got[0].Point != a || got[0].SecPerStep != 2 || got[0].SampleImgPS != 20 {
		t.Errorf("fastcpu at %v: %+v, want s/step 2 and 20 images/s", a, got[0])
	}
	if got[1].Backend != "pytorch" || got[1].SecPerStep != 2 || got[2].Point != b || got[2].SecPerStep != 9 {
		t.Errorf("other groups: %+v", got[1:])
	}
}
