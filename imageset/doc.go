// Package imageset reads and writes the images fm-image trains on and
// produces, in plain Go: it loads a folder of pictures into an in-memory
// [Dataset] (decoding JPEG, PNG, GIF, BMP, TIFF and WebP, applying EXIF
// orientation, compositing transparency on white, resizing and cropping),
// labels images by sub-folder, draws training batches with flips, converts
// between images and the [-1, 1] float tensors the model sees, and lays
// results out as PNG grids, strips and animated GIFs.
//
// Tensors are float32 in HWC layout: row-major, height, then width, then 3
// interleaved RGB channels, with values in [-1, 1] (-1 is black, 1 white).
package imageset
