package dms

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

// Policy is how many RRPC probes in a row must fail before a device is
// declared offline. Any positive count works; the three named ones are those
// of the original server code.
type Policy int

// Named policies.
const (
	PolicyStrict Policy = 1 // offline after 1 failure
	PolicyNormal Policy = 2 // offline after 2 consecutive failures
	PolicyLoose  Policy = 3 // offline after 3 consecutive failures
)

func (p Policy) String() string {
	switch p {
	case PolicyStrict:
		return "strict"
	case PolicyNormal:
		return "normal"
	case PolicyLoose:
		return "loose"
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

// Defaults of ProberConfig.
const (
	DefaultProbeTimeout     = 5 * time.Second
	DefaultProbeConcurrency = 16
	DefaultPolicy           = PolicyNormal
)

// ProberConfig configures a Prober. Zero fields mean the defaults.
type ProberConfig struct {
	// Timeout is how long a probe waits for its reply. Zero means
	// DefaultProbeTimeout (5 s).
	Timeout time.Duration
	// Policy is the number of failed probes in a row that make a device
	// offline. Zero means DefaultPolicy (normal, 2).
	Policy Policy
	// Concurrency bounds the devices CheckAll probes at the same time.
	// Zero means DefaultProbeConcurrency.
	Concurrency int
	// Clock measures the round trip and the timeout; nil means
	// SystemClock.
	Clock  Clock
	Logger *Logger
}

// Verdict is the result of checking one device.
type Verdict struct {
	Device   Device
	Online   bool
	Attempts int           // probes sent (at most the policy's count)
	RTT      time.Duration // round trip of the probe that succeeded
	Errs     []error       // the *ProbeError of each failed probe, in order
}

// Prober judges on the server side whether devices are online, by RRPC:
// it publishes {"id":"<id>","version":"1.0","time":<unix ms>} to a device's
// request topic and waits for the same body on the matching response topic.
// All replies arrive through one subscription to RRPCResponseFilter.
type Prober struct {
	c       *client.Client
	cfg     ProberConfig
	log     *Logger
	base    uint64
	seq     atomic.Uint64
	mu      sync.Mutex
	waiting map[probeKey]chan []byte
	closed  bool
	done    chan struct{} // closed by Close
}

type probeKey struct {
	dev Device
	id  string
}

// NewProber subscribes c (connected) to RRPCResponseFilter and returns a
// prober using it. c stays the caller's; Close removes the subscription.
func NewProber(ctx context.Context, c *client.Client, cfg ProberConfig) (*Prober, error) {
	if cfg.Policy < 0 {
		return nil, &ConfigError{Field: "Policy", Reason: "negative"}
	}
	if cfg.Timeout < 0 {
		return nil, &ConfigError{Field: "Timeout", Reason: "negative duration"}
	}
	if cfg.Concurrency < 0 {
		return nil, &ConfigError{Field: "Concurrency", Reason: "negative"}
	}
	if cfg.Policy == 0 {
		cfg.Policy = DefaultPolicy
	}
	cfg.Timeout = durationOrDefault(cfg.Timeout, DefaultProbeTimeout)
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultProbeConcurrency
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	p := &Prober{c: c, cfg: cfg, log: cfg.Logger, waiting: make(map[probeKey]chan []byte), done: make(chan struct{}),
		base: uint64(rand.Uint32()) << 20}
	codes, err := c.Subscribe(ctx, p.onReply, client.Subscription{Filter: RRPCResponseFilter, QoS: packet.QoS0})
	if err != nil {
		return nil, err
	}
	if err := checkSuback(codes, []string{RRPCResponseFilter}); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Prober) onReply(m *client.Message) {
	dev, id, ok := parseRRPCTopic(m.Topic, "response")
	if !ok {
		return
	}
	p.mu.Lock()
	ch, ok := p.waiting[probeKey{dev, id}]
	if ok {
		delete(p.waiting, probeKey{dev, id})
	}
	p.mu.Unlock()
	if !ok {
		p.log.Debug("dms: RRPC reply nobody waits for", "topic", m.Topic)
		return
	}
	ch <- m.Payload // buffered, one per key
}

// Probe sends one RRPC request to d and waits for the reply, within the
// prober's timeout and ctx. It returns the round trip, or a *ProbeError
// (ErrProbeTimeout, ErrReplyMismatch, a publish failure, ctx's error).
func (p *Prober) Probe(ctx context.Context, d Device) (time.Duration, error) {
	id := strconv.FormatUint(p.base+p.seq.Add(1), 10)
	fail := func(err error) (time.Duration, error) {
		return 0, &ProbeError{Device: d, MessageID: id, Err: err}
	}
	if err := validateRRPCNames(d.ProductKey, d.DeviceName); err != nil {
		return fail(err)
	}
	start := p.cfg.Clock.Now()
	body := strconv.AppendQuote([]byte(`{"id":`), id)
	body = append(body, `,"version":"1.0","time":`...)
	body = strconv.AppendInt(body, start.UnixMilli(), 10)
	body = append(body, '}')

	key := probeKey{d, id}
	ch := make(chan []byte, 1)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fail(ErrStopped)
	}
	p.waiting[key] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, key)
		p.mu.Unlock()
	}()

	timer := p.cfg.Clock.NewTimer(p.cfg.Timeout)
	defer timer.Stop()
	if err := p.c.Publish(ctx, RRPCRequestTopic(d, id), packet.QoS0, false, body); err != nil {
		return fail(err)
	}
	select {
	case reply := <-ch:
		if !bytes.Equal(reply, body) {
			return fail(ErrReplyMismatch)
		}
		return p.cfg.Clock.Now().Sub(start), nil
	case <-timer.C():
		return fail(ErrProbeTimeout)
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-p.done:
		return fail(ErrStopped)
	}
}

// Check probes d until a probe succeeds or the policy's count of probes in
// a row failed: the device is online at the first success, offline after
// Policy failures. A cancelled ctx ends the check early with the device
// offline and ctx's error last in Errs.
func (p *Prober) Check(ctx context.Context, d Device) Verdict {
	v := Verdict{Device: d}
	for v.Attempts < int(p.cfg.Policy) {
		v.Attempts++
		rtt, err := p.Probe(ctx, d)
		if err == nil {
			v.Online, v.RTT = true, rtt
			return v
		}
		v.Errs = append(v.Errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return v
}

// CheckAll checks devices, at most Concurrency at a time, and returns their
// verdicts in the order of devices.
func (p *Prober) CheckAll(ctx context.Context, devices []Device) []Verdict {
	out := make([]Verdict, len(devices))
	sem := make(chan struct{}, p.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, d := range devices {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i] = p.Check(ctx, d)
		})
	}
	wg.Wait()
	return out
}

// Close stops the prober: probes waiting and new ones fail with ErrStopped,
// and the subscription is removed within
// ctx. The client stays open.
func (p *Prober) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	return p.c.Unsubscribe(ctx, RRPCResponseFilter)
}
