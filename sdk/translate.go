package sdk

import (
	"time"

	"github.com/fm-image/fm-image/sdk/fmimagepb"
)

// This file holds every conversion between the Go types of this package and
// the protocol's messages (package fmimagepb), in both directions. The gRPC
// adapters (grpc_client.go, grpc_server.go) only move the results over the
// wire.

func trainRequestToPB(r TrainRequest) *fmimagepb.TrainRequest {
	return &fmimagepb.TrainRequest{
		DataDir: r.DataDir, ModelDir: r.ModelDir, Arch: r.Arch, Size: int32(r.Size),
		Steps: int64(r.Steps), Batch: int32(r.Batch), Lr: r.LR, Seed: r.Seed,
		Resume: r.Resume, CheckpointEvery: int64(r.CheckpointEvery),
		Holdout: r.Holdout, Labels: r.Labels, AddNewImages: r.AddNewImages,
		DurationNanos: int64(r.Duration), Objective: r.Objective,
	}
}

func trainRequestFromPB(in *fmimagepb.TrainRequest) TrainRequest {
	return TrainRequest{
		DataDir: in.GetDataDir(), ModelDir: in.GetModelDir(), Arch: in.GetArch(),
		Size: int(in.GetSize()), Steps: int(in.GetSteps()), Batch: int(in.GetBatch()),
		LR: in.GetLr(), Seed: in.GetSeed(), Resume: in.GetResume(),
		CheckpointEvery: int(in.GetCheckpointEvery()),
		Holdout:         in.GetHoldout(),
		Labels:          in.GetLabels(),
		AddNewImages:    in.GetAddNewImages(),
		Duration:        time.Duration(in.GetDurationNanos()),
		Objective:       in.GetObjective(),
	}
}

func trainProgressToPB(p TrainProgress) *fmimagepb.TrainEvent {
	return &fmimagepb.TrainEvent{
		Step: int64(p.Step), TotalSteps: int64(p.TotalSteps), Loss: p.Loss,
		ImagesPerSec: p.ImagesPerSec, EtaNanos: int64(p.ETA), Checkpoint: p.Checkpoint,
		Message: p.Message,
	}
}

func trainProgressFromPB(ev *fmimagepb.TrainEvent) TrainProgress {
	return TrainProgress{
		Step: int(ev.GetStep()), TotalSteps: int(ev.GetTotalSteps()), Loss: ev.GetLoss(),
		ImagesPerSec: ev.GetImagesPerSec(), ETA: time.Duration(ev.GetEtaNanos()),
		Checkpoint: ev.GetCheckpoint(), Message: ev.GetMessage(),
	}
}

func generateRequestToPB(r GenerateRequest) *fmimagepb.GenerateRequest {
	return &fmimagepb.GenerateRequest{
		ModelDir: r.ModelDir, N: int32(r.N), Steps: int32(r.Steps), Seed: r.Seed, Sampler: r.Sampler,
		Label: r.Label, Guidance: r.Guidance, InitPng: r.InitPNG, Strength: r.Strength,
		Interpolate: r.Interpolate, InterpolateSeed: r.InterpolateSeed,
		PreviewEvery: int32(r.PreviewEvery),
	}
}

func generateRequestFromPB(in *fmimagepb.GenerateRequest) GenerateRequest {
	return GenerateRequest{
		ModelDir: in.GetModelDir(), N: int(in.GetN()), Steps: int(in.GetSteps()),
		Seed: in.GetSeed(), Sampler: in.GetSampler(), Label: in.GetLabel(), Guidance: in.GetGuidance(),
		InitPNG: in.GetInitPng(), Strength: in.GetStrength(),
		Interpolate: in.GetInterpolate(), InterpolateSeed: in.GetInterpolateSeed(),
		PreviewEvery: int(in.GetPreviewEvery()),
	}
}

// generateProgressToPB converts a progress event whose previews have already
// been capped (see GRPCServer.capPreviews).
func generateProgressToPB(p GenerateProgress) *fmimagepb.GenerateEvent {
	var previews []*fmimagepb.Preview
	for _, im := range p.Previews {
		previews = append(previews, &fmimagepb.Preview{
			Index: int32(im.Index), Width: int32(im.Width), Height: int32(im.Height), Png: im.PNG,
		})
	}
	return &fmimagepb.GenerateEvent{Event: &fmimagepb.GenerateEvent_Progress{
		Progress: &fmimagepb.GenerateProgress{Step: int32(p.Step), TotalSteps: int32(p.TotalSteps), Previews: previews},
	}}
}

// generateProgressFromPB converts a progress event of a request for n
// images, skipping previews with an index outside the batch or no data.
func generateProgressFromPB(p *fmimagepb.GenerateProgress, n int) GenerateProgress {
	out := GenerateProgress{Step: int(p.GetStep()), TotalSteps: int(p.GetTotalSteps())}
	for _, pv := range p.GetPreviews() {
		if idx := int(pv.GetIndex()); idx >= 0 && idx < n && len(pv.GetPng()) > 0 {
			out.Previews = append(out.Previews, Image{Index: idx, Width: int(pv.GetWidth()), Height: int(pv.GetHeight()), PNG: pv.GetPng()})
		}
	}
	return out
}

// imageChunkToPB converts the part data, at byte offset off, of image img.
func imageChunkToPB(img Image, off int, data []byte, last bool) *fmimagepb.GenerateEvent {
	return &fmimagepb.GenerateEvent{Event: &fmimagepb.GenerateEvent_Chunk{
		Chunk: &fmimagepb.ImageChunk{
			Index: int32(img.Index), Width: int32(img.Width), Height: int32(img.Height),
			Offset: int64(off), Data: data, Last: last,
		},
	}}
}

func infoRequestToPB(modelDir string) *fmimagepb.InfoRequest {
	return &fmimagepb.InfoRequest{ModelDir: modelDir}
}

func infoRequestFromPB(in *fmimagepb.InfoRequest) string { return in.GetModelDir() }

func drainResponseToPB(inFlight int) *fmimagepb.DrainResponse {
	return &fmimagepb.DrainResponse{InFlight: int32(inFlight)}
}

func drainResponseFromPB(r *fmimagepb.DrainResponse) int { return int(r.GetInFlight()) }

func modelInfoToPB(mi ModelInfo) *fmimagepb.ModelInfo {
	return &fmimagepb.ModelInfo{
		ModelDir: mi.ModelDir, Arch: mi.Arch, Width: int32(mi.Width), Height: int32(mi.Height),
		Step: int64(mi.Step), TotalSteps: int64(mi.TotalSteps), DatasetSize: int64(mi.DatasetSize),
		Backend: mi.Backend, Params: mi.Params, ConfigJson: mi.ConfigJSON, Labels: mi.Labels,
		DataDir: mi.DataDir, HoldoutFiles: mi.HoldoutFiles, Warning: mi.Warning, TrainedOn: mi.TrainedOn,
		Objective: mi.Objective, Sampler: mi.Sampler, StepCounts: int32s(mi.StepCounts),
	}
}

func modelInfoFromPB(mi *fmimagepb.ModelInfo) ModelInfo {
	return ModelInfo{
		ModelDir: mi.GetModelDir(), Arch: mi.GetArch(), Width: int(mi.GetWidth()), Height: int(mi.GetHeight()),
		Step: int(mi.GetStep()), TotalSteps: int(mi.GetTotalSteps()), DatasetSize: int(mi.GetDatasetSize()),
		Backend: mi.GetBackend(), Params: mi.GetParams(), ConfigJSON: mi.GetConfigJson(), Labels: mi.GetLabels(),
		DataDir: mi.GetDataDir(), HoldoutFiles: mi.GetHoldoutFiles(), Warning: mi.GetWarning(), TrainedOn: mi.GetTrainedOn(),
		Objective: mi.GetObjective(), Sampler: mi.GetSampler(), StepCounts: ints(mi.GetStepCounts()),
	}
}

func invertRequestToPB(r InvertRequest) *fmimagepb.InvertRequest {
	return &fmimagepb.InvertRequest{ModelDir: r.ModelDir, ImagePng: r.ImagePNG, Steps: int32(r.Steps), Sampler: r.Sampler}
}

func invertRequestFromPB(in *fmimagepb.InvertRequest) InvertRequest {
	return InvertRequest{ModelDir: in.GetModelDir(), ImagePNG: in.GetImagePng(), Steps: int(in.GetSteps()), Sampler: in.GetSampler()}
}

func invertResultToPB(r InvertResult) *fmimagepb.InvertResponse {
	return &fmimagepb.InvertResponse{
		Width: int32(r.Width), Height: int32(r.Height), Noise: r.Noise, NoiseStd: r.NoiseStd,
		Reconstruction: r.Reconstruction, RoundTripMae: r.RoundTripMAE,
	}
}

func invertResultFromPB(r *fmimagepb.InvertResponse) InvertResult {
	return InvertResult{
		Width: int(r.GetWidth()), Height: int(r.GetHeight()), Noise: r.GetNoise(), NoiseStd: r.GetNoiseStd(),
		Reconstruction: r.GetReconstruction(), RoundTripMAE: r.GetRoundTripMae(),
	}
}

func presetsToPB(ps []Preset) *fmimagepb.PresetsResponse {
	out := &fmimagepb.PresetsResponse{}
	for _, p := range ps {
		out.Presets = append(out.Presets, &fmimagepb.Preset{
			Name: p.Name, Description: p.Description, Width: int32(p.Width), Height: int32(p.Height), Default: p.Default,
		})
	}
	return out
}

func presetsFromPB(r *fmimagepb.PresetsResponse) []Preset {
	var out []Preset
	for _, p := range r.GetPresets() {
		out = append(out, Preset{
			Name: p.GetName(), Description: p.GetDescription(), Width: int(p.GetWidth()), Height: int(p.GetHeight()), Default: p.GetDefault(),
		})
	}
	return out
}

func int32s(v []int) []int32 {
	if v == nil {
		return nil
	}
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

func ints(v []int32) []int {
	if v == nil {
		return nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}
