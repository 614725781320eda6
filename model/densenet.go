package model

import (
	"fmt"

	"repro/gpu"
)

// densenet builds Huang et al.'s CIFAR DenseNet: a 3x3 convolution to 16
// channels (2k with bottlenecks), three dense blocks of n layers each joined
// by transitions (batch norm, ReLU, 1x1 convolution to floor(theta*C)
// channels, 2x2 average pooling), then batch norm, ReLU, global average
// pooling and the classifier. A layer is BN-ReLU-Conv3x3(k), or with
// bottlenecks BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k); dropout follows each
// convolution but the first when configured.
//
// Each block's features live in one buffer of N x (C0 + n*k) channels, and
// its gradient in another: a layer reads the channel prefix written so far
// and writes its k new channels into the next slice, so concatenation never
// copies. In the backward pass the layer after a block (a transition or the
// head) overwrites the whole gradient buffer first, then each layer, in
// reverse, adds its input gradient into the prefix it read.
//
// In training, the batch statistics of a block's channels are computed once,
// as they are written (by the stem or transition, then by each layer), and
// shared by every batch norm that reads them (channelStats).
func (bl *builder) densenet(x gpu.Tensor) {
	c := bl.cfg
	per := 3
	if c.Bottleneck {
		per = 6
	}
	n := (c.Depth - 4) / per
	k := c.Growth
	wide := k // width of a layer's inner activations
	if c.Bottleneck {
		wide = 4 * k
	}

	// channel counts and buffers of the three blocks
	var start, total, size [3]int
	var feat, grad [3]gpu.Tensor
	start[0], size[0] = 16, 32
	if c.Bottleneck {
		start[0] = 2 * k
	}
	for b := 0; b < 3; b++ {
		if b > 0 {
			start[b] = int(float64(total[b-1]) * c.Compression)
			size[b] = size[b-1] / 2
		}
		total[b] = start[b] + n*k
		feat[b] = bl.tensor(bl.batch, total[b], size[b], size[b])
		grad[b] = bl.tensor(bl.batch, total[b], size[b], size[b])
	}

	var stats [3]*channelStats
	for b := range stats {
		stats[b] = bl.channelStats(total[b], size[b], size[b], start[b], k)
	}

	s := &denseStem{b: bl.b, x: x, y: feat[0].Channels(0, start[0]), dy: grad[0].Channels(0, start[0]), stats: stats[0]}
	s.conv = bl.conv("conv1", 3, start[0], 3, 1, 1, 32, 32)
	bl.add(s)
	for b := 0; b < 3; b++ {
		scr := denseScratch{
			dIn:  bl.tensor(bl.batch, total[b], size[b], size[b]),
			dMid: bl.tensor(bl.batch, wide, size[b], size[b]),
			dAct: bl.tensor(bl.batch, wide, size[b], size[b]),
			dNew: bl.tensor(bl.batch, k, size[b], size[b]),
		}
		for i := 0; i < n; i++ {
			bl.denseLayer(fmt.Sprintf("dense%d.%d", b+1, i), feat[b], grad[b], start[b]+i*k, scr, stats[b])
		}
		if b < 2 {
			bl.transition(fmt.Sprintf("trans%d", b+1), feat[b], grad[b], feat[b+1].Channels(0, start[b+1]), grad[b+1].Channels(0, start[b+1]), stats[b], stats[b+1])
		}
	}
	hd := &preHead{b: bl.b, x: feat[2], dx: grad[2]}
	hd.bn = bl.bn("bn_final", total[2], size[2], size[2], true, stats[2])
	hd.h = bl.tensor(bl.batch, total[2], size[2], size[2])
	hd.dh = bl.tensor(bl.batch, total[2], size[2], size[2])
	bl.add(hd)
	bl.head(hd.h, hd.dh)
}

// denseStem is the first convolution, writing the first channels of block 1.
type denseStem struct {
	b        gpu.Backend
	conv     *convOp
	x, y, dy gpu.Tensor
	stats    *channelStats // block 1's
}

func (s *denseStem) forward(train bool) error {
	if err := s.conv.forward(s.y, s.x); err != nil || !train {
		return err
	}
	return s.stats.compute(0, s.y)
}
func (s *denseStem) backward() error {
	return s.conv.backward(gpu.Tensor{}, s.dy, s.x, false)
}

// denseScratch are gradient buffers shared by the layers of one block.
type denseScratch struct {
	dIn  gpu.Tensor // gradient of a layer's first BN-ReLU output (up to the block's width)
	dMid gpu.Tensor // gradient of the bottleneck conv output (after dropout)
	dAct gpu.Tensor // gradient of the second BN-ReLU output
	dNew gpu.Tensor // gradient of the new channels before dropout
}

// denseLayer is one layer of a dense block, reading channels [0, c) of the
// block and writing [c, c+k).
type denseLayer struct {
	b          gpu.Backend
	p          float32         // dropout rate
	seed1      gpu.DropoutSeed // the bottleneck conv's dropout
	seed2      gpu.DropoutSeed // the new channels' dropout
	in, din    gpu.Tensor
	out, dout  gpu.Tensor
	bn1        *bnOp
	a1         gpu.Tensor // relu(bn1(in))
	conv1      *convOp
	m, md      gpu.Tensor // bottleneck conv output, and after dropout
	bn2        *bnOp
	a2         gpu.Tensor // relu(bn2(md))
	conv2      *convOp
	o          gpu.Tensor // new channels before dropout, or packed (Config.PackedGrowth)
	scr        denseScratch
	bottleneck bool
	packed     bool          // Config.PackedGrowth
	stats      *channelStats // the block's
	c          int           // channels before this layer's
}

func (bl *builder) denseLayer(name string, feat, grad gpu.Tensor, c int, scr denseScratch, stats *channelStats) {
	k := bl.cfg.Growth
	N, H, W := bl.batch, feat.H, feat.W
	l := &denseLayer{b: bl.b, p: float32(bl.cfg.Dropout), bottleneck: bl.cfg.Bottleneck, scr: scr, stats: stats, c: c,
		packed: bl.cfg.PackedGrowth}
	l.in, l.din = feat.Channels(0, c), grad.Channels(0, c)
	l.out, l.dout = feat.Channels(c, k), grad.Channels(c, k)
	l.bn1 = bl.bn(name+".bn1", c, H, W, true, stats)
	l.a1 = bl.tensor(N, c, H, W)
	inner := c
	if l.bottleneck {
		l.conv1 = bl.conv(name+".conv1", c, 4*k, 1, 1, 0, H, W)
		l.m = bl.tensor(N, 4*k, H, W)
		l.md = l.m
		if l.p > 0 {
			l.md = bl.tensor(N, 4*k, H, W)
			l.seed1 = bl.dropoutSeed()
		}
		l.bn2 = bl.bn(name+".bn2", 4*k, H, W, true, nil)
		l.a2 = bl.tensor(N, 4*k, H, W)
		inner = 4 * k
	}
	l.conv2 = bl.conv(name+".conv2", inner, k, 3, 1, 1, H, W)
	l.o = l.out
	if l.p > 0 || l.packed {
		l.o = bl.tensor(N, k, H, W)
	}
	if l.p > 0 {
		l.seed2 = bl.dropoutSeed()
	}
	bl.add(l)
}

func (l *denseLayer) forward(train bool) error {
	drop := train && l.p > 0
	if err := l.bn1.forward(l.a1, l.in, train); err != nil {
		return err
	}
	last := l.a1
	if l.bottleneck {
		if err := l.conv1.forward(l.m, l.a1); err != nil {
			return err
		}
		md := l.m
		if drop {
			if err := l.b.DropoutForward(l.md, l.m, l.p, l.seed1); err != nil {
				return err
			}
			md = l.md
		}
		if err := l.bn2.forward(l.a2, md, train); err != nil {
			return err
		}
		last = l.a2
	}
	o := l.out
	if drop || l.packed {
		o = l.o
	}
	if err := l.conv2.forward(o, last); err != nil {
		return err
	}
	switch {
	case drop:
		if err := l.b.DropoutForward(l.out, l.o, l.p, l.seed2); err != nil {
			return err
		}
	case l.packed:
		if err := l.b.Copy(l.out, l.o); err != nil {
			return err
		}
	}
	if !train {
		return nil
	}
	return l.stats.compute(l.c, l.out)
}

func (l *denseLayer) backward() error {
	dy := l.dout
	switch {
	case l.p > 0:
		dy = within(l.scr.dNew, l.dout.C)
		if err := l.b.DropoutBackward(dy, l.dout, l.p, l.seed2, false); err != nil {
			return err
		}
	case l.packed:
		dy = within(l.scr.dNew, l.dout.C)
		if err := l.b.Copy(dy, l.dout); err != nil {
			return err
		}
	}
	da1 := within(l.scr.dIn, l.in.C)
	if l.bottleneck {
		da2 := within(l.scr.dAct, l.a2.C)
		if err := l.conv2.backward(da2, dy, l.a2, false); err != nil {
			return err
		}
		dm := within(l.scr.dMid, l.m.C)
		md := l.m
		if l.p > 0 {
			md = l.md
		}
		if err := l.bn2.backward(dm, da2, md, l.a2, false); err != nil {
			return err
		}
		if l.p > 0 {
			// dropout's backward may not run in place, so bounce through dAct
			if err := l.b.DropoutBackward(da2, dm, l.p, l.seed1, false); err != nil {
				return err
			}
			dm = da2
		}
		if err := l.conv1.backward(da1, dm, l.a1, false); err != nil {
			return err
		}
	} else if err := l.conv2.backward(da1, dy, l.a1, false); err != nil {
		return err
	}
	return l.bn1.backward(l.din, da1, l.in, l.a1, true)
}

// transition is BN-ReLU-Conv1x1-(dropout)-AvgPool2 from a whole block into
// the first channels of the next block.
type transition struct {
	b     gpu.Backend
	p     float32
	seed  gpu.DropoutSeed
	x, dx gpu.Tensor // the whole block and its gradient
	bn    *bnOp
	a, da gpu.Tensor
	conv  *convOp
	c, dc gpu.Tensor // conv output (after dropout when active) and its gradient
	cd    gpu.Tensor // conv output before dropout
	dcd   gpu.Tensor
	y, dy gpu.Tensor    // views into the next block
	next  *channelStats // the next block's
}

func (bl *builder) transition(name string, x, dx, y, dy gpu.Tensor, stats, next *channelStats) {
	N, C, H, W := bl.batch, x.C, x.H, x.W
	t := &transition{b: bl.b, p: float32(bl.cfg.Dropout), x: x, dx: dx, y: y, dy: dy, next: next}
	t.bn = bl.bn(name+".bn", C, H, W, true, stats)
	t.a = bl.tensor(N, C, H, W)
	t.da = bl.tensor(N, C, H, W)
	t.conv = bl.conv(name+".conv", C, y.C, 1, 1, 0, H, W)
	t.c = bl.tensor(N, y.C, H, W)
	t.dc = bl.tensor(N, y.C, H, W)
	t.cd, t.dcd = t.c, t.dc
	if t.p > 0 {
		t.cd = bl.tensor(N, y.C, H, W)
		t.dcd = bl.tensor(N, y.C, H, W)
		t.seed = bl.dropoutSeed()
	}
	bl.add(t)
}

func (t *transition) forward(train bool) error {
	if err := t.bn.forward(t.a, t.x, train); err != nil {
		return err
	}
	if err := t.conv.forward(t.cd, t.a); err != nil {
		return err
	}
	c := t.cd
	if train && t.p > 0 {
		if err := t.b.DropoutForward(t.c, t.cd, t.p, t.seed); err != nil {
			return err
		}
		c = t.c
	}
	if err := t.b.AvgPoolForward(t.y, c, 2); err != nil || !train {
		return err
	}
	return t.next.compute(0, t.y)
}

func (t *transition) backward() error {
	if err := t.b.AvgPoolBackward(t.dc, t.dy, 2, false); err != nil {
		return err
	}
	if t.p > 0 {
		if err := t.b.DropoutBackward(t.dcd, t.dc, t.p, t.seed, false); err != nil {
			return err
		}
	}
	if err := t.conv.backward(t.da, t.dcd, t.a, false); err != nil {
		return err
	}
	return t.bn.backward(t.dx, t.da, t.x, t.a, false)
}

// preHead is the final BN-ReLU of a DenseNet, over the whole last block.
type preHead struct {
	b            gpu.Backend
	bn           *bnOp
	x, dx, h, dh gpu.Tensor
}

func (p *preHead) forward(train bool) error {
	return p.bn.forward(p.h, p.x, train)
}

func (p *preHead) backward() error {
	return p.bn.backward(p.dx, p.dh, p.x, p.h, false)
}
