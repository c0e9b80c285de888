package stitcher

import "touchpoint/internal/kafkabus"

// freeList keeps the large buffers of batches that are done for later batches. Memory the
// stitcher used before costs nothing to touch again, while fresh memory costs a page fault
// per 4 KiB on first use; page faults were a fifth of the stitcher's CPU time in the
// benchmark.
type freeList[T any] chan T

// maxFree is how many buffers of a kind are kept: about the batches in flight.
const maxFree = 4

func newFreeList[T any]() freeList[T] { return make(freeList[T], maxFree) }

// get returns a kept buffer, or the zero T when none is kept.
func (f freeList[T]) get() T {
	select {
	case v := <-f:
		return v
	default:
		var zero T
		return zero
	}
}

// put keeps v unless enough buffers are kept already.
func (f freeList[T]) put(v T) {
	select {
	case f <- v:
	default:
	}
}

// buffers are the free lists of the stitcher's per-batch buffers.
type buffers struct {
	msgs   freeList[[]kafkabus.Message]
	ins    freeList[[]incoming]
	blocks freeList[*eventBlock]
}

func newBuffers() buffers {
	return buffers{msgs: newFreeList[[]kafkabus.Message](), ins: newFreeList[[]incoming](), blocks: newFreeList[*eventBlock]()}
}

// recycle keeps the buffers of a batch whose rows are written and whose offsets are
// committed. They are cleared first: that drops the batch's strings, and decode wants
// zero incoming.
func (b buffers) recycle(d decodedBatch) {
	msgs, ins := d.msgs[:cap(d.msgs)], d.ins[:cap(d.ins)]
	clear(msgs)
	clear(ins)
	b.msgs.put(msgs[:0])
	b.ins.put(ins[:0])
}

// eventBlock returns a block for n rows, a kept one when it is large enough.
func (b buffers) eventBlock(n int) *eventBlock {
	if e := b.blocks.get(); e != nil && cap(e.id) >= n {
		return e
	}
	return newEventBlock(n)
}

// recycleBlock keeps an inserted block, emptied.
func (b buffers) recycleBlock(e *eventBlock) {
	e.reset()
	b.blocks.put(e)
}
