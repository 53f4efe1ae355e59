// Package unet builds the convolutional U-Net velocity model v(x, t) that fm-image
// trains by flow matching.
//
// The model maps a batch of images x, shaped [B, H, W, C] (NHWC, float32, values
// roughly in [-1, 1] plus noise), and one time per image t, shaped [B] with
// values in [0, 1], to a velocity of the same shape as x, [B, H, W, C].
//
// Everything is described by a [Config]; [Velocity] builds the graph inside a
// GoMLX context, creating the model's variables on first use. Named presets
// ([Preset]) give ready configurations, among them "ref-unet-32", the
// reference architecture used for speed comparisons.
//
// The files follow the building blocks: config.go (what the model is),
// layers.go (convolution, dense, GroupNorm, pooling), timeembed.go (the
// sinusoidal time embedding), resblock.go (time-conditioned residual blocks),
// attention.go (self-attention), model.go (the U-Net itself) and init.go
// (deterministic weight initialisation).
package unet
