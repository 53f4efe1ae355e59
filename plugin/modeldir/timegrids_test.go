package modeldir

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/flow"
)

func TestTimeGridsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if g, err := ReadTimeGrids(dir); err != nil || g.Grids != nil {
		t.Fatalf("no file: got %+v, %v; want no grids and no error", g, err)
	}
	want := TimeGrids{Step: 4810, Method: flow.FlowMap, Reference: "flowmap at 32 steps",
		Grids: map[int][]float64{2: {0.4375}, 4: {0.18, 0.41, 0.69}}}
	if err := WriteTimeGrids(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTimeGrids(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %+v, wrote %+v", got, want)
	}
	if c := got.StepCounts(); !reflect.DeepEqual(c, []int{2, 4}) {
		t.Errorf("StepCounts %v, want [2 4]", c)
	}
	for _, tc := range []struct {
		method      flow.Method
		steps, step int
		want        []float64
	}{
		{flow.FlowMap, 4, 4810, want.Grids[4]},
		{flow.FlowMap, 8, 4810, nil}, // no grid at that count
		{flow.FlowMap, 4, 5000, nil}, // another checkpoint
		{flow.Euler, 4, 4810, nil},   // another sampler
	} {
		if g := got.For(tc.method, tc.steps, tc.step); !reflect.DeepEqual(g, tc.want) {
			t.Errorf("For(%s, %d, %d) = %v, want %v", tc.method, tc.steps, tc.step, g, tc.want)
		}
	}
}

func TestTimeGridsRefusesBadGrids(t *testing.T) {
	dir := t.TempDir()
	for _, g := range []map[int][]float64{
		{4: {0.2, 0.5}}, // 4 steps need 3 points
		{3: {0.6, 0.4}}, // not increasing
		{2: {1.2}},      // outside (0, 1)
		{1: {}},         // one step has no grid
	} {
		if err := WriteTimeGrids(dir, TimeGrids{Method: flow.FlowMap, Grids: g}); err == nil {
			t.Errorf("WriteTimeGrids(%v) succeeded", g)
		}
	}
	for name, content := range map[string]string{
		"not JSON":       "{",
		"another format": `{"format": "x", "version": 1, "grids": {}}`,
		"a bad grid":     `{"format": "fm-image-time-grids", "version": 1, "method": "flowmap", "grids": {"3": [0.5]}}`,
		"a bad count":    `{"format": "fm-image-time-grids", "version": 1, "method": "flowmap", "grids": {"four": [0.5]}}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, TimeGridsFile), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadTimeGrids(dir); err == nil || !strings.Contains(err.Error(), TimeGridsFile) {
			t.Errorf("%s: error %v, want one naming %s", name, err, TimeGridsFile)
		}
	}
}

// TestCheckpointStampSeesTimeGrids: writing grids after the checkpoint
// changes the stamp, so a model loaded before they were fitted is reloaded.
func TestCheckpointStampSeesTimeGrids(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CheckpointFile), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := CheckpointStamp(dir)
	if err := WriteTimeGrids(dir, TimeGrids{Method: flow.FlowMap, Grids: map[int][]float64{2: {0.5}}}); err != nil {
		t.Fatal(err)
	}
	if after := CheckpointStamp(dir); after == before || before == "" {
		t.Fatalf("stamp %q before the grids, %q after: want two different, non-empty stamps", before, after)
	}
}
