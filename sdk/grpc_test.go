package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/sdk/fmimagepb"
	"github.com/fm-image/fm-image/sdk/sdktest"
)

// inProcess connects a GRPCClient to a GRPCServer serving impl over a real
// gRPC connection inside the test process.
func inProcess(t *testing.T, impl sdk.Generator) *sdk.GRPCClient {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		sdk.PluginName: &sdk.GRPCPlugin{Impl: impl},
	})
	// Stop the server first: Close-then-Stop races under -race.
	t.Cleanup(func() { server.Stop(); _ = client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*sdk.GRPCClient)
}

// trainedModel trains the fake for a few steps and returns the model dir.
func trainedModel(t *testing.T, g sdk.Generator, size int) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a.png", "b.png"} {
		if err := os.WriteFile(filepath.Join(data, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	model := filepath.Join(dir, "model")
	if err := g.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Size: size, Steps: 3}, nil); err != nil {
		t.Fatal(err)
	}
	return model
}

func TestTrainProgressCrossesTheWire(t *testing.T) {
	c := inProcess(t, &sdktest.Generator{StepDelay: time.Millisecond})
	dir := t.TempDir()
	var got []sdk.TrainProgress
	err := c.Train(context.Background(), sdk.TrainRequest{
		DataDir: dir, ModelDir: filepath.Join(dir, "m"), Size: 16, Steps: 4, CheckpointEvery: 2,
	}, func(p sdk.TrainProgress) { got = append(got, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("got %d progress events, want 5: %+v", len(got), got)
	}
	if got[0].Message != "loaded 0 images" {
		t.Errorf("first message = %q", got[0].Message)
	}
	last := got[4]
	want := sdk.TrainProgress{Step: 4, TotalSteps: 4, Loss: 0.25, ImagesPerSec: 1000,
		Checkpoint: filepath.Join(dir, "m", sdktest.ModelFile)}
	if last != want {
		t.Errorf("last event = %+v, want %+v", last, want)
	}
	if got[2].Checkpoint == "" || got[1].Checkpoint != "" || got[3].ETA != time.Millisecond {
		t.Errorf("checkpoint/ETA fields wrong: %+v", got)
	}
}

func TestGenerateLargeBatchAndInfo(t *testing.T) {
	g := &sdktest.Generator{}
	c := inProcess(t, g)
	model := trainedModel(t, g, 256)
	var steps []sdk.GenerateProgress
	images, err := c.Generate(context.Background(), sdk.GenerateRequest{ModelDir: model, N: 64, Steps: 3, Seed: 9},
		func(p sdk.GenerateProgress) { steps = append(steps, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 3 || !reflect.DeepEqual(steps[2], sdk.GenerateProgress{Step: 3, TotalSteps: 3}) {
		t.Errorf("progress = %+v", steps)
	}
	total := 0
	for i, img := range images {
		total += len(img.PNG)
		want, _ := sdktest.NoisePNG(256, 9, i)
		if img.Index != i || img.Width != 256 || img.Height != 256 || !bytes.Equal(img.PNG, want) {
			t.Fatalf("image %d: index %d size %dx%d, %d bytes (want %d)", i, img.Index, img.Width, img.Height, len(img.PNG), len(want))
		}
	}
	if total <= 4<<20 {
		t.Fatalf("batch is only %d bytes; the test needs > 4 MiB", total)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(images[63].PNG))
	if err != nil || cfg.Width != 256 {
		t.Errorf("decode image 63: %v %+v", err, cfg)
	}

	info, err := c.Info(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(filepath.Dir(model), "data")
	want := sdk.ModelInfo{ModelDir: model, Arch: "fake", Width: 256, Height: 256, Step: 3, TotalSteps: 3,
		DatasetSize: 2, DataDir: data, Backend: "fake", Params: 42,
		ConfigJSON: `{"arch":"fake","size":256,"step":3,"total_steps":3,"dataset_size":2,"data_dir":` + strconv.Quote(data) + `}`}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("Info = %+v\nwant   %+v", info, want)
	}
}

func TestErrorsMapBack(t *testing.T) {
	g := &sdktest.Generator{}
	c := inProcess(t, g)
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name string
		call func() error
		is   error
		msg  string
	}{
		{"validation by the plugin", func() error {
			_, err := c.Generate(context.Background(), sdk.GenerateRequest{ModelDir: "m", N: 0, Steps: 1}, nil)
			return err
		}, sdk.ErrInvalidRequest, "invalid n"},
		{"not found", func() error {
			_, err := c.Info(context.Background(), missing)
			return err
		}, sdk.ErrNotFound, "info: model " + missing + ": not found"},
		{"already exists", func() error {
			return c.Train(context.Background(), sdk.TrainRequest{DataDir: ".", ModelDir: ".", Steps: 1}, nil)
		}, sdk.ErrAlreadyExists, "train: model dir .: already exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want errors.Is %v and message containing %q", err, tc.is, tc.msg)
			}
		})
	}
	// A refused request's field crosses the wire, so that hosts can name it.
	_, err := c.Generate(context.Background(), sdk.GenerateRequest{ModelDir: "m", N: 0, Steps: 1}, nil)
	var ve *sdk.ValidationError
	if !errors.As(err, &ve) || ve.Field != "n" || !strings.Contains(ve.Problem, "must be in 1..") {
		t.Errorf("errors.As(%v) found %+v; want the field n and its problem", err, ve)
	}
}

// The plugin validates requests itself, whatever the host sent.
func TestServerValidatesRequests(t *testing.T) {
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		sdk.PluginName: &sdk.GRPCPlugin{Impl: &sdktest.Generator{}},
	})
	t.Cleanup(func() { server.Stop(); _ = client.Close() })
	raw := fmimagepb.NewGeneratorClient(client.Conn)
	stream, err := raw.Generate(context.Background(), &fmimagepb.GenerateRequest{ModelDir: "m", N: 5000, Steps: 1})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "invalid n: must be in 1..1024, got 5000") {
		t.Fatalf("err = %v, want InvalidArgument about n", err)
	}
	_, err = raw.Info(context.Background(), &fmimagepb.InfoRequest{})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Info err = %v, want InvalidArgument", err)
	}
}

func TestCancellationReachesPlugin(t *testing.T) {
	cancelled := make(chan string, 1)
	g := &sdktest.Generator{StepDelay: 5 * time.Millisecond, OnCancel: func(call string) { cancelled <- call }}
	c := inProcess(t, g)
	model := trainedModel(t, &sdktest.Generator{}, 8)
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	_, err := c.Generate(ctx, sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 10000}, func(p sdk.GenerateProgress) {
		if p.Step == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case call := <-cancelled:
		if call != "generate" {
			t.Errorf("cancelled call = %q", call)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the plugin never saw the cancellation")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
}
