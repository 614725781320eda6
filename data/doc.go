// Package data reads, checks and prepares the CIFAR-10 data sets that the
// trainer consumes. It knows nothing about devices.
//
// Contract:
//
//   - A data set is an [Images]: N square RGB images of Size x Size pixels
//     stored as uint8, image by image, each as C planes (R, G, B) of Size rows
//     of Size pixels, which is the record order of the official CIFAR-10
//     binary release. Labels index Classes. [Images.Validate] checks this.
//   - [Open] reads the official binary release (folder or the
//     cifar-10-binary.tar.gz archive itself) or an image folder tree
//     (train/<class>/*.png|*.jpg, test/<class>/..., folder or .tar.gz) and
//     returns the train and test sets in a deterministic order. Archives are
//     read entry by entry in memory; nothing from an archive is ever written
//     to disk, and entries with absolute paths or ".." are rejected.
//   - [Download] fetches the official archive into a cache folder through a
//     temporary file, checks its published MD5 and renames it into place, so
//     a failed or partial download never leaves a file that looks complete.
//   - [Split], [Subset] and [Resize] derive new sets and never modify their
//     input. [Split] is stratified and deterministic for a seed.
//   - [FitNorm] fits one of the normalizations of [NormMode] on a training
//     set; [Norm] describes it as per-image affine terms ([Norm.ImageAffine])
//     followed by per-position mean and scale planes, so that a device can
//     apply it to uint8 images after cropping and flipping.
//
// Every error is one line naming the file (or the function and argument) and
// what was expected. Functions never panic on bad input; the package holds no
// mutable package-level state and is safe for concurrent use on distinct
// values.
package data
