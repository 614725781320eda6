package gpu

// Mix is the counter-based random function shared by every backend for
// dropout masks and augmentation: splitmix64's finalizer applied to a + b*golden.
// Being a pure function of its arguments, it gives the same bits on the CPU and
// on the GPU, in any order of evaluation, which makes backends comparable bit
// for bit and runs resumable without saving generator state.
func Mix(a, b uint64) uint64 {
	z := a + (b+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Uniform maps 64 random bits to a float32 in [0, 1) using the top 24 bits,
// exactly representable, so every backend computes the same value.
func Uniform(bits uint64) float32 {
	return float32(bits>>40) * (1.0 / (1 << 24))
}
