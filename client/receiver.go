package client

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
)

// maxBatch is how many inbound packets the receiver hands over in one
// batch, at most.
const maxBatch = 64

// inQueue is how many batches may wait for the state owner.
const inQueue = 4

// receiver is the connection's reader goroutine (Paho's CommsReceiver): it
// decodes packets and hands them to the state owner (comms) in batches. A
// batch is every packet that one Read brought in (at most maxBatch), so a
// busy connection costs one hand-off and one wake-up per batch, not per
// packet. Batches are recycled: the packets are copied into the batch
// (payloads into its arena), which allocates nothing once the batches have
// grown.
//
// The hand-off is a queue under mu and a signal on the client's wake
// channel, the one API requests use, and so is the end of reading: the
// state owner, while idle, waits on that one channel. Batches are made as
// needed, at most inQueue+2 (inQueue waiting, one being filled, one with
// the state owner), so the receiver reads ahead of a state owner held back
// by a full dispatcher as far as inQueue batches, and then waits for a
// free one.
//
// With a pacing policy (Options.Pacing) the receiver may pause before a
// read (pacer); otherwise it reads as soon as data is there.
type receiver struct {
	wake  chan struct{} // the client's: a batch is ready, or reading ended
	pacer pacer         // nil: no pauses (no pacing policy)
	wg    sync.WaitGroup

	// mu guards the fields below it.
	mu      sync.Mutex
	ready   []*inBatch // for the state owner, in order
	free    []*inBatch // batches the state owner is done with
	made    int        // batches allocated so far
	ended   bool       // reading stopped; after the batches in ready
	err     error      // why reading stopped
	stopped bool       // the state owner asked the receiver to stop
	waiting bool       // the receiver waits on room for a free batch
	room    chan struct{}
}

func newReceiver(wake chan struct{}, p pacer) *receiver {
	return &receiver{wake: wake, pacer: p}
}

func (rd *receiver) signal() {
	select {
	case rd.wake <- struct{}{}:
	default:
	}
}

// batch returns an empty batch to fill, or nil when the receiver must stop.
func (rd *receiver) batch() *inBatch {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	for {
		if rd.stopped {
			return nil
		}
		if n := len(rd.free); n > 0 {
			b := rd.free[n-1]
			rd.free[n-1] = nil
			rd.free = rd.free[:n-1]
			return b
		}
		if rd.made < inQueue+2 {
			rd.made++
			return new(inBatch)
		}
		if rd.room == nil {
			rd.room = make(chan struct{}, 1)
		}
		rd.waiting = true
		rd.mu.Unlock()
		<-rd.room
		rd.mu.Lock()
	}
}

// hand queues b (nil: none) for the state owner; with err non-nil reading
// ends after it.
func (rd *receiver) hand(b *inBatch, err error) {
	rd.mu.Lock()
	if b != nil {
		rd.ready = append(rd.ready, b)
	}
	if err != nil {
		rd.ended, rd.err = true, err
	}
	rd.mu.Unlock()
	rd.signal()
}

// next returns the oldest batch waiting for the state owner, if any; ended
// is true when there is none and reading has stopped.
func (rd *receiver) next() (b *inBatch, ended bool) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if len(rd.ready) == 0 {
		return nil, rd.ended
	}
	b = rd.ready[0]
	n := copy(rd.ready, rd.ready[1:]) // at most inQueue: keep the array
	rd.ready[n] = nil
	rd.ready = rd.ready[:n]
	return b, false
}

// hasNext reports whether next has a batch or the end to return.
func (rd *receiver) hasNext() bool {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return len(rd.ready) > 0 || rd.ended
}

// recycle gives a batch the state owner is done with back to the receiver.
func (rd *receiver) recycle(b *inBatch) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.free = append(rd.free, b)
	rd.wakeReaderLocked()
}

func (rd *receiver) wakeReaderLocked() {
	if rd.waiting {
		rd.waiting = false
		rd.room <- struct{}{} // capacity 1, and only this sends, once per wait
	}
}

// dropSpares lets go of the batches the state owner gave back, for an idle
// connection (comms.release); new ones are made as needed.
func (rd *receiver) dropSpares() {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.made -= len(rd.free)
	clear(rd.free)
	rd.free = nil
}

// stop makes the receiver end (the connection is closed first, so its Read
// fails) and waits for it.
func (rd *receiver) stop() {
	rd.mu.Lock()
	rd.stopped = true
	rd.wakeReaderLocked()
	rd.mu.Unlock()
	rd.wg.Wait()
}

// readErr returns why reading stopped.
func (rd *receiver) readErr() error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.err != nil {
		return rd.err
	}
	return io.EOF
}

// run is the receiver goroutine.
func (rd *receiver) run(r *packet.Reader) {
	defer rd.wg.Done()
	small := false // the last batch had less than half of maxBatch packets
	for {
		var pz pause
		if rd.pacer != nil {
			pz = rd.pacer.before(r, small)
		}
		// The first packet is read before a batch is taken, so that an
		// idle receiver, blocked in that read, holds no batch.
		var start, first time.Time // for the pacer: when the read began, when its first packet came
		if rd.pacer != nil {
			start = time.Now()
		}
		p, err := r.ReadPacket()
		if err == nil && rd.pacer != nil {
			first = time.Now()
		}
		b := rd.batch()
		if b == nil {
			rd.hand(nil, net.ErrClosed)
			return
		}
		b.reset()
		bytes := 0 // of the batch's packets
		for err == nil {
			bytes += b.add(p)
			if len(b.pkts) >= maxBatch || !r.Ready() {
				break
			}
			p, err = r.ReadPacket()
		}
		if n := len(b.pkts); n > 0 && rd.pacer != nil {
			rd.pacer.after(pz, start, first, n, bytes, b.quiet())
		}
		small = len(b.pkts) < maxBatch/2
		if len(b.pkts) == 0 {
			b = nil // only the error
		}
		rd.hand(b, err) // the state owner takes the packets, then finds the end
		if err != nil {
			return
		}
	}
}

// inBatch is the packets of one hand-off from the receiver to the state
// owner.
type inBatch struct {
	pkts  []inPacket
	arena []byte // the payloads of the PUBLISH packets
}

// inPacket is one packet of a batch, by value. A PUBLISH's topic is an
// interned string and its payload points into the batch's arena; the rare
// packets with slices of their own (SUBACK, ...) are cloned.
type inPacket struct {
	typ     packet.Type
	pub     packet.Publish
	other   packet.Packet // anything else, cloned
	puback  packet.Puback
	pubrec  packet.Pubrec
	pubrel  packet.Pubrel
	pubcomp packet.Pubcomp
}

func (b *inBatch) reset() {
	clear(b.pkts) // drop references for the garbage collector
	b.pkts, b.arena = b.pkts[:0], b.arena[:0]
}

// add copies p into the batch and returns its size on the wire, or about
// it for the rare packets other than PUBLISH and its acknowledgements.
func (b *inBatch) add(p packet.Packet) int {
	b.pkts = append(b.pkts, inPacket{})
	ip := &b.pkts[len(b.pkts)-1]
	ip.typ = p.Type()
	size := 4
	switch p := p.(type) {
	case *packet.Publish:
		size = p.Len()
		ip.pub = *p
		// Appending may move the arena: earlier payloads keep pointing
		// into the old one, which stays valid.
		n := len(b.arena)
		b.arena = append(b.arena, p.Payload...)
		ip.pub.Payload = b.arena[n:len(b.arena):len(b.arena)]
	case *packet.Puback:
		ip.puback = *p
	case *packet.Pubrec:
		ip.pubrec = *p
	case *packet.Pubrel:
		ip.pubrel = *p
	case *packet.Pubcomp:
		ip.pubcomp = *p
	default:
		ip.other = packet.Clone(p)
	}
	return size
}

// quiet reports whether the batch holds QoS 0 PUBLISH packets only.
func (b *inBatch) quiet() bool {
	for i := range b.pkts {
		if ip := &b.pkts[i]; ip.typ != packet.TypePublish || ip.pub.QoS != packet.QoS0 {
			return false
		}
	}
	return true
}

// packet returns the packet to hand to the session; it points into ip.
func (ip *inPacket) packet() packet.Packet {
	switch ip.typ {
	case packet.TypePublish:
		return &ip.pub
	case packet.TypePuback:
		return &ip.puback
	case packet.TypePubrec:
		return &ip.pubrec
	case packet.TypePubrel:
		return &ip.pubrel
	case packet.TypePubcomp:
		return &ip.pubcomp
	}
	return ip.other
}
