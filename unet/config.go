package unet

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Conditioning says how a residual block receives the time embedding.
type Conditioning string

const (
	// ConditionAdd adds a projection of the time embedding to the block's
	// hidden activations (one value per channel), as in ref-unet-32.
	ConditionAdd Conditioning = "add"
	// ConditionScaleShift projects the time embedding to a per-channel scale
	// and shift applied after the block's second GroupNorm: h·(1+scale)+shift.
	ConditionScaleShift Conditioning = "scale-shift"
)

// Config describes a U-Net velocity model. The zero value is not valid: start
// from [Preset] or [DefaultConfig] and change fields, then call [Config.Validate]
// (Velocity validates too).
type Config struct {
	// Name is the preset this configuration came from ("" if custom); it is
	// informational only.
	Name string `json:"name,omitempty"`
	// Height and Width of the images in pixels. Both must be divisible by
	// 2^(len(ChannelMults)-1), the total down-sampling of the U-Net.
	Height int `json:"height"`
	Width  int `json:"width"`
	// ImageChannels is the number of channels of the images (3 for RGB).
	ImageChannels int `json:"image_channels"`

	// BaseChannels is the number of channels at the top level; level i has
	// BaseChannels*ChannelMults[i] channels.
	BaseChannels int `json:"base_channels"`
	// ChannelMults has one multiplier per resolution level, top level first.
	ChannelMults []int `json:"channel_mults"`
	// BlocksPerLevel is the number of residual blocks per level on the way
	// down (and up).
	BlocksPerLevel int `json:"blocks_per_level"`
	// MiddleBlocks is the number of residual blocks at the lowest resolution.
	MiddleBlocks int `json:"middle_blocks"`

	// AttentionResolutions lists the feature-map heights at which a
	// self-attention layer follows each residual block (empty: none; costly on
	// CPUs).
	AttentionResolutions []int `json:"attention_resolutions,omitempty"`
	// AttentionHeads is the number of heads of each self-attention layer.
	AttentionHeads int `json:"attention_heads"`

	// GroupNormGroups is the number of groups of every GroupNorm; every
	// level's channel count must be divisible by it.
	GroupNormGroups int `json:"group_norm_groups"`
	// Dropout is the dropout rate inside residual blocks during training
	// (0 disables it). It needs a backend with random-number generation
	// (GOMLX_BACKEND=fmcpu or go); the default fastcpu backend refuses it.
	Dropout float64 `json:"dropout"`

	// TimeEmbedDim is the size of the sinusoidal embedding of t (half sines,
	// half cosines); it must be even.
	TimeEmbedDim int `json:"time_embed_dim"`
	// TimeHiddenDim is the width of the time MLP and of the embedding that the
	// residual blocks receive.
	TimeHiddenDim int `json:"time_hidden_dim"`
	// MaxFrequency is the highest frequency of the sinusoidal embedding; the
	// frequencies are spaced geometrically from 1 to MaxFrequency.
	MaxFrequency float64 `json:"max_frequency"`
	// Conditioning says how blocks use the time embedding.
	Conditioning Conditioning `json:"conditioning"`
	// NumClasses is the number of class labels of a class-conditional model
	// (0: unconditional). Labels are embedded and added to the time
	// embedding; an extra "no label" embedding serves classifier-free
	// guidance.
	NumClasses int `json:"num_classes,omitempty"`
	// StepInput makes the model a flow map: besides t it takes a step size
	// d >= 0 and predicts the average velocity over [t, t+d] (d = 0: the
	// instantaneous velocity). d gets its own sinusoidal embedding and MLP,
	// whose output (zero at initialisation) is added to the time embedding.
	// Such models are trained with a few-step objective (flow.TrainConfig's
	// Objective) and sampled with flow.FlowMap; the plain velocity samplers
	// use d = 0.
	StepInput bool `json:"step_input,omitempty"`
}

// DefaultConfig returns the configuration of the "small" preset at the given
// image size: a CPU-friendly U-Net.
func DefaultConfig(height, width int) Config {
	c, _ := Preset("small")
	c.Height, c.Width = height, width
	return c
}

// presets maps preset names to a constructor and a one-line description.
var presets = map[string]struct {
	describe string
	make     func() Config
}{
	"ref-unet-32": {
		describe: "the reference U-Net for speed comparisons: channels 32/64/128, one block per level, 32x32",
		make: func() Config {
			return Config{
				Height: 32, Width: 32, ImageChannels: 3,
				BaseChannels: 32, ChannelMults: []int{1, 2, 4},
				BlocksPerLevel: 1, MiddleBlocks: 2,
				AttentionHeads: 4, GroupNormGroups: 8,
				TimeEmbedDim: 64, TimeHiddenDim: 128, MaxFrequency: 1000,
				Conditioning: ConditionAdd,
			}
		},
	},
	"tiny": {
		describe: "a very small U-Net for tests and quick experiments: channels 8/16, 16x16",
		make: func() Config {
			return Config{
				Height: 16, Width: 16, ImageChannels: 3,
				BaseChannels: 8, ChannelMults: []int{1, 2},
				BlocksPerLevel: 1, MiddleBlocks: 1,
				AttentionHeads: 1, GroupNormGroups: 4,
				TimeEmbedDim: 16, TimeHiddenDim: 32, MaxFrequency: 1000,
				Conditioning: ConditionAdd,
			}
		},
	},
	"small": {
		describe: "a CPU-friendly U-Net: channels 32/64/64 with scale-and-shift time conditioning, 32x32",
		make: func() Config {
			return Config{
				Height: 32, Width: 32, ImageChannels: 3,
				BaseChannels: 32, ChannelMults: []int{1, 2, 2},
				BlocksPerLevel: 1, MiddleBlocks: 1,
				AttentionHeads: 4, GroupNormGroups: 8,
				TimeEmbedDim: 64, TimeHiddenDim: 128, MaxFrequency: 1000,
				Conditioning: ConditionScaleShift,
			}
		},
	},
	"medium": {
		describe: "a larger U-Net for GPUs or patient CPUs: channels 64/128/256/256, two blocks per level, attention at 16x16 and 8x8, 64x64",
		make: func() Config {
			return Config{
				Height: 64, Width: 64, ImageChannels: 3,
				BaseChannels: 64, ChannelMults: []int{1, 2, 4, 4},
				BlocksPerLevel: 2, MiddleBlocks: 2,
				AttentionResolutions: []int{16, 8}, AttentionHeads: 4,
				GroupNormGroups: 32,
				TimeEmbedDim:    128, TimeHiddenDim: 256, MaxFrequency: 1000,
				Conditioning: ConditionScaleShift,
			}
		},
	},
}

// PresetNames lists the names [Preset] accepts, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for name := range presets {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// DescribePreset returns a one-line description of a preset ("" if unknown).
func DescribePreset(name string) string { return presets[name].describe }

// Preset returns the named configuration (see [PresetNames]).
func Preset(name string) (Config, error) {
	p, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("unknown model preset %q: valid presets are %s", name, strings.Join(PresetNames(), ", "))
	}
	c := p.make()
	c.Name = name
	return c, nil
}

// Levels returns the number of resolution levels, len(ChannelMults).
func (c Config) Levels() int { return len(c.ChannelMults) }

// Downsampling returns the factor by which the lowest level is smaller than
// the image: 2^(Levels-1).
func (c Config) Downsampling() int { return 1 << max(c.Levels()-1, 0) }

// LevelChannels returns the channel count of each level, top level first.
func (c Config) LevelChannels() []int {
	ch := make([]int, len(c.ChannelMults))
	for i, m := range c.ChannelMults {
		ch[i] = c.BaseChannels * m
	}
	return ch
}

// Validate reports the first problem with the configuration, naming the field
// and the allowed range.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.ImageChannels < 1 || c.ImageChannels > 4 {
		bad("image_channels=%d: must be 1 to 4", c.ImageChannels)
	}
	if len(c.ChannelMults) < 1 || len(c.ChannelMults) > 6 {
		bad("channel_mults has %d levels: must have 1 to 6", len(c.ChannelMults))
	}
	for i, m := range c.ChannelMults {
		if m < 1 {
			bad("channel_mults[%d]=%d: must be >= 1", i, m)
		}
	}
	if c.BaseChannels < 1 || c.BaseChannels > 1024 {
		bad("base_channels=%d: must be 1 to 1024", c.BaseChannels)
	}
	d := c.Downsampling()
	if c.Height < d || c.Height > 4096 || c.Height%d != 0 {
		bad("height=%d: must be a multiple of %d (2^(levels-1)) between %d and 4096", c.Height, d, d)
	}
	if c.Width < d || c.Width > 4096 || c.Width%d != 0 {
		bad("width=%d: must be a multiple of %d (2^(levels-1)) between %d and 4096", c.Width, d, d)
	}
	if c.BlocksPerLevel < 1 || c.BlocksPerLevel > 8 {
		bad("blocks_per_level=%d: must be 1 to 8", c.BlocksPerLevel)
	}
	if c.MiddleBlocks < 0 || c.MiddleBlocks > 8 {
		bad("middle_blocks=%d: must be 0 to 8", c.MiddleBlocks)
	}
	if c.GroupNormGroups < 1 {
		bad("group_norm_groups=%d: must be >= 1", c.GroupNormGroups)
	} else if c.BaseChannels >= 1 {
		for i, ch := range c.LevelChannels() {
			if ch%c.GroupNormGroups != 0 {
				bad("group_norm_groups=%d: must divide the %d channels of level %d", c.GroupNormGroups, ch, i)
			}
		}
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		bad("dropout=%g: must be in [0, 1)", c.Dropout)
	}
	if c.TimeEmbedDim < 2 || c.TimeEmbedDim%2 != 0 {
		bad("time_embed_dim=%d: must be even and >= 2", c.TimeEmbedDim)
	}
	if c.TimeHiddenDim < 1 {
		bad("time_hidden_dim=%d: must be >= 1", c.TimeHiddenDim)
	}
	if c.MaxFrequency < 1 {
		bad("max_frequency=%g: must be >= 1", c.MaxFrequency)
	}
	if c.NumClasses < 0 || c.NumClasses > 10000 {
		bad("num_classes=%d: must be 0 to 10000", c.NumClasses)
	}
	if c.Conditioning != ConditionAdd && c.Conditioning != ConditionScaleShift {
		bad("conditioning=%q: must be %q or %q", c.Conditioning, ConditionAdd, ConditionScaleShift)
	}
	if len(c.AttentionResolutions) > 0 {
		if c.AttentionHeads < 1 {
			bad("attention_heads=%d: must be >= 1 when attention is used", c.AttentionHeads)
		}
		heights := c.levelHeights()
		for _, r := range c.AttentionResolutions {
			lvl := slices.Index(heights, r)
			if lvl < 0 {
				bad("attention_resolutions contains %d: must be one of the level heights %v", r, heights)
			} else if c.AttentionHeads >= 1 && c.LevelChannels()[lvl]%c.AttentionHeads != 0 {
				bad("attention_heads=%d: must divide the %d channels at resolution %d", c.AttentionHeads, c.LevelChannels()[lvl], r)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid U-Net config: %w", errors.Join(errs...))
	}
	return nil
}

// levelHeights returns the feature-map height of each level.
func (c Config) levelHeights() []int {
	h := make([]int, c.Levels())
	for i := range h {
		h[i] = c.Height >> i
	}
	return h
}

// hasAttention reports whether blocks at the given feature-map height are
// followed by self-attention.
func (c Config) hasAttention(height int) bool {
	return slices.Contains(c.AttentionResolutions, height)
}

// MarshalIndent returns the configuration as indented JSON.
func (c Config) MarshalIndent() ([]byte, error) { return json.MarshalIndent(c, "", "  ") }

// ParseConfig decodes a configuration written by [Config.MarshalIndent] (or
// json.Marshal) and validates it. Unknown fields are an error, so a model
// directory from an incompatible version is refused rather than misread.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("decode U-Net config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// WithSize returns c for images of height h and width w, keeping
// self-attention at the same levels (a preset that attends at 16x16 and 8x8
// for 64x64 images attends at 8x8 and 4x4 for 32x32 ones). The result is not
// validated.
func (c Config) WithSize(h, w int) Config {
	old := c.levelHeights()
	c.Height, c.Width = h, w
	if len(c.AttentionResolutions) > 0 {
		res := make([]int, 0, len(c.AttentionResolutions))
		for _, r := range c.AttentionResolutions {
			if lvl := slices.Index(old, r); lvl >= 0 {
				res = append(res, h>>lvl)
			}
		}
		c.AttentionResolutions = res
	}
	return c
}
