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
