// Package flow implements flow-matching training, samplers and the image data
// it trains on.
//
// Conventions shared by the whole package:
//
//   - Images are float32 tensors in HWC layout (NHWC when batched): row-major,
//     height, then width, then 3 interleaved RGB channels, with values in
//     [-1, 1] (-1 is black, 1 is white).
//   - Flow matching pairs noise x0 ~ N(0, I) at t = 0 with data x1 at t = 1;
//     the model regresses the velocity v(x_t, t) onto x1 - x0 along the path
//     x_t = (1-t) x0 + t x1. Sampling integrates dx/dt = v(x, t) from t = 0
//     to t = 1 (see [Integrate]).
//   - The model is reached only through the [Field] interface, so samplers can
//     be tested on analytic velocity fields.
package flow
