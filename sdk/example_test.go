package sdk_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fm-image/fm-image/sdk"
)

// Open starts a plugin binary and returns a Generator backed by it. (Here
// the plugin is the test fake, which makes noise images.)
func ExampleOpen() {
	work, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(work)

	gen, err := sdk.Open(fakePlugin, sdk.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer gen.Close()

	ctx := context.Background()
	model := filepath.Join(work, "model")
	err = gen.Train(ctx, sdk.TrainRequest{DataDir: work, ModelDir: model, Size: 16, Steps: 10}, func(p sdk.TrainProgress) {
		if p.Checkpoint != "" {
			fmt.Printf("step %d/%d: checkpoint written\n", p.Step, p.TotalSteps)
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	images, err := gen.Generate(ctx, sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 4, Sampler: sdk.SamplerHeun}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, img := range images {
		fmt.Printf("image %d: %dx%d PNG\n", img.Index, img.Width, img.Height)
	}
	_, err = gen.Generate(ctx, sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 0}, nil)
	fmt.Println(err)
	// Output:
	// step 10/10: checkpoint written
	// image 0: 16x16 PNG
	// image 1: 16x16 PNG
	// invalid steps: must be in 1..10000, got 0
}
