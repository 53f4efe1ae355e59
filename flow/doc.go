// Package flow holds the plain-Go mathematics of flow-matching sampling: the
// velocity field seen as an interface, the ODE integrators that turn noise
// into images, the seeded Gaussian noise every image starts from, and the
// mixing used by image-to-image and interpolation. It does not depend on
// GoMLX: samplers are tested on analytic fields, and the model is plugged in
// by package training's ModelField.
//
// Conventions shared with the rest of the project:
//
//   - Images are float32 tensors in HWC layout (NHWC when batched): row-major,
//     height, then width, then 3 interleaved RGB channels, with values in
//     [-1, 1] (-1 is black, 1 is white).
//   - Flow matching pairs noise x0 ~ N(0, I) at t = 0 with data x1 at t = 1;
//     the model regresses the velocity v(x_t, t) onto x1 - x0 along the path
//     x_t = (1-t) x0 + t x1. Sampling integrates dx/dt = v(x, t) from t = 0
//     to t = 1 (see [Integrate]).
//   - The model is reached only through the [Field] interface.
package flow
