package model

import (
	"fmt"

	"repro/gpu"
)

// resnet builds He et al.'s CIFAR ResNet (section 4.2): a 3x3 convolution to
// 16 channels, three stages of n basic blocks at 16, 32 and 64 channels on
// 32x32, 16x16 and 8x8 (the first block of the last two stages strides by
// 2), global average pooling and a 10-way classifier; depth = 6n+2.
func (bl *builder) resnet(x gpu.Tensor) {
	n := (bl.cfg.Depth - 2) / 6
	stem := &stem{b: bl.b, x: x}
	stem.conv = bl.conv("conv1", 3, 16, 3, 1, 1, 32, 32)
	stem.bn = bl.bn("bn1", 16, 32, 32, true, nil)
	stem.c = bl.tensor(bl.batch, 16, 32, 32)
	stem.h = bl.tensor(bl.batch, 16, 32, 32)
	stem.dh = bl.tensor(bl.batch, 16, 32, 32)
	stem.tmp = bl.tensor(bl.batch, 16, 32, 32)
	bl.add(stem)

	cur, dcur := stem.h, stem.dh
	width, size := 16, 32
	for s := 0; s < 3; s++ {
		if s > 0 {
			width, size = width*2, size/2
		}
		// two scratch gradients per stage, shared by its blocks
		tA := bl.tensor(bl.batch, width, size, size)
		tB := bl.tensor(bl.batch, width, size, size)
		for i := 0; i < n; i++ {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			blk := bl.block(fmt.Sprintf("layer%d.%d", s+1, i), cur, dcur, width, size, stride, tA, tB)
			cur, dcur = blk.out, blk.dout
		}
	}
	bl.head(cur, dcur)
}

// stem is conv, batch norm, ReLU on the input image.
type stem struct {
	b           gpu.Backend
	conv        *convOp
	bn          *bnOp
	x, c, h, dh gpu.Tensor
	tmp         gpu.Tensor
}

func (s *stem) forward(train bool) error {
	if err := s.conv.forward(s.c, s.x); err != nil {
		return err
	}
	return s.bn.forward(s.h, s.c, train)
}

func (s *stem) backward() error {
	if err := s.bn.backward(s.tmp, s.dh, s.c, s.h, false); err != nil {
		return err
	}
	return s.conv.backward(gpu.Tensor{}, s.tmp, s.x, false)
}

// block is the basic residual block: out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
// the shortcut being the identity, option A (subsample and zero-pad
// channels) or option B (1x1 convolution and batch norm) where the shape
// changes.
type block struct {
	b              gpu.Backend
	conv1, conv2   *convOp
	bn1, bn2       *bnOp
	proj           *convOp // option B only
	projBN         *bnOp
	x, dx          gpu.Tensor
	c1, h, c2, out gpu.Tensor
	pc, pb         gpu.Tensor // option B: projection conv and batch-norm outputs
	dout           gpu.Tensor
	tA, tB         gpu.Tensor
	fusedAdd       bool // bn2 adds the shortcut and applies the ReLU (bnAdd)
}

func (bl *builder) block(name string, x, dx gpu.Tensor, width, size, stride int, tA, tB gpu.Tensor) *block {
	k := &block{b: bl.b, x: x, dx: dx, tA: tA, tB: tB}
	k.conv1 = bl.conv(name+".conv1", x.C, width, 3, stride, 1, x.H, x.W)
	k.bn1 = bl.bn(name+".bn1", width, size, size, true, nil)
	k.conv2 = bl.conv(name+".conv2", width, width, 3, 1, 1, size, size)
	// the add and ReLU after bn2 fuse into it when the shortcut has the
	// output's shape (identity or projection), not for option A's
	// subsampled, zero-padded shortcut
	k.fusedAdd = bl.cfg.Shortcut == "B" || (stride == 1 && x.C == width)
	if k.fusedAdd {
		k.bn2 = bl.bnAdd(name+".bn2", width, size, size)
	} else {
		k.bn2 = bl.bn(name+".bn2", width, size, size, false, nil)
	}
	if bl.cfg.Shortcut == "B" && (stride != 1 || x.C != width) {
		k.proj = bl.conv(name+".shortcut.0", x.C, width, 1, stride, 0, x.H, x.W)
		k.projBN = bl.bn(name+".shortcut.1", width, size, size, false, nil)
		k.pc = bl.tensor(bl.batch, width, size, size)
		k.pb = bl.tensor(bl.batch, width, size, size)
	}
	k.c1 = bl.tensor(bl.batch, width, size, size)
	k.h = bl.tensor(bl.batch, width, size, size)
	k.c2 = bl.tensor(bl.batch, width, size, size)
	k.out = bl.tensor(bl.batch, width, size, size)
	k.dout = bl.tensor(bl.batch, width, size, size)
	bl.add(k)
	return k
}

func (k *block) forward(train bool) error {
	if err := k.conv1.forward(k.c1, k.x); err != nil {
		return err
	}
	if err := k.bn1.forward(k.h, k.c1, train); err != nil {
		return err
	}
	if err := k.conv2.forward(k.c2, k.h); err != nil {
		return err
	}
	shortcut := k.x
	if k.proj != nil {
		if err := k.proj.forward(k.pc, k.x); err != nil {
			return err
		}
		if err := k.projBN.forward(k.pb, k.pc, train); err != nil {
			return err
		}
		shortcut = k.pb
	}
	if k.fusedAdd {
		return k.bn2.forwardAdd(k.out, k.c2, shortcut, train)
	}
	// option A where the shape changes: subsample and zero-pad x
	if err := k.bn2.forward(k.out, k.c2, train); err != nil {
		return err
	}
	if err := k.b.ResidualForward(k.out, k.out, k.x); err != nil {
		return err
	}
	return k.b.ReLUForward(k.out, k.out)
}

func (k *block) backward() error {
	dsum := k.dout
	if err := k.b.ReLUBackward(dsum, k.dout, k.out); err != nil {
		return err
	}
	if err := k.bn2.backward(k.tA, dsum, k.c2, gpu.Tensor{}, false); err != nil { // no ReLU of its own
		return err
	}
	if err := k.conv2.backward(k.tB, k.tA, k.h, false); err != nil {
		return err
	}
	if err := k.bn1.backward(k.tA, k.tB, k.c1, k.h, false); err != nil {
		return err
	}
	if err := k.conv1.backward(k.dx, k.tA, k.x, false); err != nil {
		return err
	}
	if k.proj != nil {
		if err := k.projBN.backward(k.tA, dsum, k.pc, gpu.Tensor{}, false); err != nil {
			return err
		}
		return k.proj.backward(k.dx, k.tA, k.x, true)
	}
	return k.b.ShortcutBackward(k.dx, dsum, true)
}
