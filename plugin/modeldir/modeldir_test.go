package modeldir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

func TestMetaRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg, err := unet.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	want := Meta{Arch: "tiny", DataDir: "photos", UNet: cfg}
	if err := WriteMeta(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadMeta = %+v, want %+v", got, want)
	}
}

func TestReadMetaErrors(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if content != "" {
			if err := os.WriteFile(filepath.Join(dir, MetaFile), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, tc := range []struct {
		name, dir, want string
		kind            error
	}{
		{"missing", filepath.Join(root, "none"), "does not exist", sdk.ErrNotFound},
		{"a file", file, "is a file", sdk.ErrInvalidRequest},
		{"no meta", write("empty", ""), "not an fm-image model directory", sdk.ErrNotFound},
		{"corrupt", write("corrupt", "{"), "is corrupt", nil},
		{"unknown field", write("extra", `{"format":"fm-image-model","version":1,"extra":1}`), "unknown field", nil},
		{"other format", write("other", `{"format":"something","version":1}`), `format "something"`, nil},
		{"newer version", write("newer", `{"format":"fm-image-model","version":99,"unet":{}}`), "incompatible version", nil},
	} {
		_, err := ReadMeta(tc.dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.kind != nil && !errors.Is(err, tc.kind)) {
			t.Errorf("%s: error %v, want one containing %q (kind %v)", tc.name, err, tc.want, tc.kind)
		}
	}
}

func TestImageListsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join("photos", "set")
	if files, err := ReadHoldout(dir, data); err != nil || files != nil {
		t.Fatalf("no hold-out: %v, %v; want nil, nil", files, err)
	}
	train := []string{filepath.Join(data, "a", "1.png"), filepath.Join(data, "b 2.jpg")}
	hold := []string{filepath.Join(data, "c.png")}
	if err := WriteImageLists(dir, data, train, hold); err != nil {
		t.Fatal(err)
	}
	// Lists are relative to the training folder, so a moved folder still matches.
	gotTrain, err := ReadTrainList(dir, "elsewhere")
	if err != nil || !reflect.DeepEqual(gotTrain, []string{filepath.Join("a", "1.png"), "b 2.jpg"}) {
		t.Fatalf("ReadTrainList = %q, %v", gotTrain, err)
	}
	gotHold, err := ReadHoldout(dir, data)
	if err != nil || !reflect.DeepEqual(gotHold, []string{"c.png"}) {
		t.Fatalf("ReadHoldout = %q, %v", gotHold, err)
	}
	if err := WriteImageLists(dir, data, []string{"outside.png"}, nil); err == nil {
		t.Error("an image outside the training folder was listed")
	}
}

// Hold-out lists written before the lists were relative hold the paths as
// found; they are read relative to the training folder all the same.
func TestOldHoldoutListIsReadRelative(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, HoldoutFile), []byte("photos/x.png\nphotos/sub/y.png\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadHoldout(dir, "photos")
	if err != nil || !reflect.DeepEqual(got, []string{"x.png", filepath.Join("sub", "y.png")}) {
		t.Fatalf("ReadHoldout = %q, %v", got, err)
	}
}

func TestLockForTraining(t *testing.T) {
	dir := t.TempDir()
	first, err := LockForTraining(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockForTraining(dir)
	if !errors.Is(err, sdk.ErrAlreadyExists) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) ||
		!strings.Contains(err.Error(), LockFile) {
		t.Fatalf("second lock: %v; want ErrAlreadyExists naming this process and %s", err, LockFile)
	}
	first.Release()
	first.Release() // twice is harmless
	again, err := LockForTraining(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.Release()
}

func TestDamagedCheckpointFallsBack(t *testing.T) {
	dir := t.TempDir()
	for _, step := range []int{400, 500} {
		if _, err := SaveCheckpoint(dir, &training.Checkpoint{Step: step, Model: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	newest := filepath.Join(dir, CheckpointFile)
	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	// Truncated (the header survives: 100 steps lost), then garbage (unknown).
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"truncated", data[:len(data)-3], "100 steps of training lost"},
		{"garbage", []byte("FMIMGCK1 not a checkpoint at all"), "an unknown number of steps"},
	} {
		if err := os.WriteFile(newest, tc.content, 0o644); err != nil {
			t.Fatal(err)
		}
		ck, warning, err := LoadCheckpoint(dir)
		if err != nil || ck.Step != 400 || !strings.Contains(warning, "is damaged") || !strings.Contains(warning, tc.want) {
			t.Errorf("%s: step %v, warning %q, error %v; want step 400 and a warning with %q", tc.name, ck, warning, err, tc.want)
		}
	}
	// Without a good previous checkpoint the damage is an error.
	if err := os.WriteFile(filepath.Join(dir, PreviousCheckpointFile), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "cannot replace it") {
		t.Errorf("both damaged: %v; want an error", err)
	}
}

func TestCheckpointRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	if _, _, err := LoadCheckpoint(dir); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("missing directory: %v, want ErrNotFound", err)
	}
	for step := 1; step <= 3; step++ {
		path, err := SaveCheckpoint(dir, &training.Checkpoint{Step: step, Model: []byte("{}")})
		if err != nil || path != filepath.Join(dir, CheckpointFile) {
			t.Fatalf("save step %d: %q, %v", step, path, err)
		}
	}
	ck, _, err := LoadCheckpoint(dir)
	if err != nil || ck.Step != 3 {
		t.Fatalf("load: step %v, %v; want 3", ck, err)
	}
	// A save interrupted between its two renames leaves only the previous one.
	if err := os.Remove(filepath.Join(dir, CheckpointFile)); err != nil {
		t.Fatal(err)
	}
	if ck, _, err := LoadCheckpoint(dir); err != nil || ck.Step != 2 {
		t.Fatalf("load without the newest: %v, %v; want step 2", ck, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	if stamp := CheckpointStamp(dir); stamp != "" {
		t.Errorf("stamp %q without a current checkpoint, want empty", stamp)
	}
}

func TestRefuseExisting(t *testing.T) {
	root := t.TempDir()
	if err := RefuseExisting(filepath.Join(root, "new")); err != nil {
		t.Errorf("a new directory: %v", err)
	}
	if err := RefuseExisting(root); err != nil {
		t.Errorf("an empty directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RefuseExisting(root); !errors.Is(err, sdk.ErrAlreadyExists) {
		t.Errorf("a non-empty directory: %v, want ErrAlreadyExists", err)
	}
	if err := RefuseExisting(filepath.Join(root, "x")); !errors.Is(err, sdk.ErrAlreadyExists) {
		t.Errorf("a file: %v, want ErrAlreadyExists", err)
	}
}
