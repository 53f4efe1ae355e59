package sdk_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"github.com/fm-image/fm-image/sdk"
)

// A host application trains a model with the real plugin and samples from it.
// (The images are made up here; point DataDir at a folder of pictures.)
func ExampleOpen_trainAndGenerate() {
	work, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(work)
	photos := filepath.Join(work, "photos")
	if err := writeGradients(photos, 6); err != nil {
		fmt.Println(err)
		return
	}

	gen, err := sdk.Open(realPlugin, sdk.Options{}) // the path of fm-image-plugin
	if err != nil {
		fmt.Println(err)
		return
	}
	defer gen.Close()

	ctx := context.Background()
	model := filepath.Join(work, "model")
	err = gen.Train(ctx, sdk.TrainRequest{
		DataDir: photos, ModelDir: model, Arch: "tiny", Size: 16, Steps: 8, Batch: 4, Seed: 1,
	}, func(p sdk.TrainProgress) {
		switch {
		case p.Message != "":
			fmt.Println(strings.ReplaceAll(p.Message, photos, "photos"))
		case p.Checkpoint != "":
			fmt.Printf("step %d/%d: checkpoint %s\n", p.Step, p.TotalSteps, filepath.Base(p.Checkpoint))
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	info, err := gen.Info(ctx, model)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s model, %dx%d, %d steps on %d images\n", info.Arch, info.Width, info.Height, info.Step, info.DatasetSize)

	images, err := gen.Generate(ctx, sdk.GenerateRequest{ModelDir: model, N: 3, Steps: 4, Seed: 7, Sampler: sdk.SamplerHeun}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, img := range images {
		cfg, err := png.DecodeConfig(bytes.NewReader(img.PNG))
		fmt.Printf("image %d: %dx%d PNG (decoded as %dx%d, err %v)\n", img.Index, img.Width, img.Height, cfg.Width, cfg.Height, err)
	}
	// Output:
	// loaded 6 images from photos
	// step 8/8: checkpoint checkpoint.fmck
	// tiny model, 16x16, 8 steps on 6 images
	// image 0: 16x16 PNG (decoded as 16x16, err <nil>)
	// image 1: 16x16 PNG (decoded as 16x16, err <nil>)
	// image 2: 16x16 PNG (decoded as 16x16, err <nil>)
}

// writeGradients writes n small colour-gradient PNGs into dir.
func writeGradients(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, 24, 24))
		for y := range 24 {
			for x := range 24 {
				img.SetNRGBA(x, y, color.NRGBA{uint8(40 * i), uint8(10 * x), uint8(10 * y), 255})
			}
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%d.png", i)))
		if err != nil {
			return err
		}
		if err := png.Encode(f, img); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
