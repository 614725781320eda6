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

// DropoutSeed is where a dropout op's masks come from: the key Mix(step,
// Salt), with step the 64-bit value that SetSeed last stored in Step (2
// int32 elements, low half first). The step's part lives in backend memory,
// read when the op runs, so that a recorded training step (a CUDA graph)
// replays with a fresh mask once a new value is stored; Salt, fixed when
// the net is built, tells one dropout op from another.
type DropoutSeed struct {
	Step IntSlice
	Salt uint64
}

// SeedWords splits a 64-bit seed into the two int32 elements SetSeed
// stores: low half, then high half.
func SeedWords(seed uint64) [2]int32 {
	return [2]int32{int32(uint32(seed)), int32(uint32(seed >> 32))}
}

// SeedFromWords joins the two elements of SeedWords back into the seed.
func SeedFromWords(lo, hi int32) uint64 {
	return uint64(uint32(lo)) | uint64(uint32(hi))<<32
}

// Key is the dropout key of seed when its Step holds step: Mix(step, Salt).
func (s DropoutSeed) Key(step uint64) uint64 { return Mix(step, s.Salt) }
