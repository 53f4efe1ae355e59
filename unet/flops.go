package unet

// ForwardFLOPs returns the floating-point operations of one forward pass for
// one image, counted analytically as 2 x the multiply-adds of the
// convolutions, dense layers and attention products (normalisations and
// element-wise ops are not counted).
func (c Config) ForwardFLOPs() float64 {
	var macs float64
	conv := func(h, w, k, cin, cout int) { macs += float64(h * w * k * k * cin * cout) }
	dense := func(cin, cout int) { macs += float64(cin * cout) }
	attn := func(h, w, ch int) {
		n := h * w
		macs += 4 * float64(n*ch*ch) // q, k, v and output projections
		macs += 2 * float64(n*n*ch)  // scores and weighted sum
	}
	block := func(h, w, cin, cout int) {
		conv(h, w, 3, cin, cout)
		conv(h, w, 3, cout, cout)
		if cin != cout {
			conv(h, w, 1, cin, cout)
		}
		if c.Conditioning == ConditionScaleShift {
			dense(c.TimeHiddenDim, 2*cout)
		} else {
			dense(c.TimeHiddenDim, cout)
		}
	}
	dense(c.TimeEmbedDim, c.TimeHiddenDim)
	dense(c.TimeHiddenDim, c.TimeHiddenDim)
	ch := c.LevelChannels()
	h, w := c.Height, c.Width
	conv(h, w, 3, c.ImageChannels, ch[0])
	prev := ch[0]
	for level, cl := range ch {
		for range c.BlocksPerLevel {
			block(h, w, prev, cl)
			prev = cl
			if c.hasAttention(h) {
				attn(h, w, cl)
			}
		}
		if level < len(ch)-1 {
			h, w = h/2, w/2
		}
	}
	for range c.MiddleBlocks {
		block(h, w, prev, prev)
	}
	for level := len(ch) - 1; level >= 0; level-- {
		prev += ch[level] // concatenated skip
		for range c.BlocksPerLevel {
			block(h, w, prev, ch[level])
			prev = ch[level]
			if c.hasAttention(h) {
				attn(h, w, ch[level])
			}
		}
		if level > 0 {
			h, w = h*2, w*2
		}
	}
	conv(h, w, 3, ch[0], c.ImageChannels)
	return 2 * macs
}

// TrainFLOPs returns the FLOPs of one training step for one image, counted
// as 3 x the forward FLOPs (forward, input gradients, weight gradients).
func (c Config) TrainFLOPs() float64 { return 3 * c.ForwardFLOPs() }
