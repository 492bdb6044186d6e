package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/internal/embedbroker"
	"github.com/linnet-mqtt/linnet/packet"
)

func init() {
	commands["bench"] = command{"measure throughput, round-trip latency and idle footprint", runBench}
}

const benchUsage = `Usage: linnet bench [flags]

Measures, against a broker (or, without -L/-h/-p, an embedded mochi-mqtt
broker started in this process on 127.0.0.1):

  throughput  publishers send -n messages each (or until -duration) at QoS -q,
              keeping up to -inflight unacknowledged; subscribers on
              linnet-bench/<run>/# receive them; rates and losses are reported
  latency     one client publishes -rtt messages (or until -duration) one
              after another to a topic it subscribes to; the time from
              publish to delivery is reported as percentiles
  idle        -idle clients connect and sit idle; goroutines and heap per
              connection are reported, for the linnet client alone (counted
              from goroutine stacks and an exact heap profile) and for the
              whole process (which includes an embedded broker)

A progress line is shown while it runs when standard output is a terminal;
the result is a table, or JSON with --format json.

Examples:
  linnet bench
  linnet bench -q 1 -size 1024 -pubs 4 -subs 2 -n 50000 -inflight 200
  linnet bench -L tcp://127.0.0.1:1883 -mode latency -rtt 5000 -q 2
  linnet bench -mode idle -idle 1000 --format json

Flags:
`

type benchConfig struct {
	QoS        packet.QoS `json:"qos"`
	Size       int        `json:"size"`
	Publishers int        `json:"publishers"`
	Subs       int        `json:"subscribers"`
	Count      int        `json:"count_per_publisher"`
	Window     int        `json:"inflight"`
	RTT        int        `json:"rtt_count"`
	Idle       int        `json:"idle_connections"`
	Duration   string     `json:"duration"`
}

type benchResult struct {
	Broker     string            `json:"broker"`
	Embedded   bool              `json:"embedded"`
	Config     benchConfig       `json:"config"`
	Throughput *throughputResult `json:"throughput,omitempty"`
	Latency    *latencyResult    `json:"latency,omitempty"`
	Idle       *idleResult       `json:"idle,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
}

type throughputResult struct {
	Published     int64   `json:"published"`
	PublishSecs   float64 `json:"publish_seconds"`
	PublishRate   float64 `json:"publish_msgs_per_sec"`
	PublishMBps   float64 `json:"publish_mb_per_sec"`
	Expected      int64   `json:"expected"`
	Received      int64   `json:"received"`
	ReceiveSecs   float64 `json:"receive_seconds"`
	ReceiveRate   float64 `json:"receive_msgs_per_sec"`
	ReceiveMBps   float64 `json:"receive_mb_per_sec"`
	Lost          int64   `json:"lost"`
	StoppedByTime bool    `json:"stopped_by_duration"`
}

type latencyResult struct {
	Count int     `json:"count"`
	MinUs float64 `json:"min_us"`
	P50Us float64 `json:"p50_us"`
	P90Us float64 `json:"p90_us"`
	P99Us float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	MaxUs float64 `json:"max_us"`
	Mean  float64 `json:"mean_us"`
}

type idleResult struct {
	Connections           int     `json:"connections"`
	ClientGoroutinesPer   float64 `json:"client_goroutines_per_conn"`
	ClientHeapBytesPer    float64 `json:"client_heap_bytes_per_conn"`
	ProcessGoroutinesPer  float64 `json:"process_goroutines_per_conn"`
	ProcessHeapBytesPer   float64 `json:"process_heap_bytes_per_conn"`
	ProcessIncludesBroker bool    `json:"process_includes_broker"`
}

func runBench(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linnet bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf connFlags
	cf.register(fs)
	mode := fs.String("mode", "throughput,latency,idle", "what to measure: a comma-separated list of throughput, latency, idle")
	qos := fs.Int("q", 0, "QoS of the messages: 0, 1 or 2")
	size := fs.Int("size", 64, "payload size in `bytes`")
	pubs := fs.Int("pubs", 1, "number of publishing clients")
	subs := fs.Int("subs", 1, "number of subscribing clients (each receives every message)")
	count := fs.Int("n", 10000, "messages per publisher")
	duration := fs.Duration("duration", 10*time.Second, "bound of the throughput and the latency phases: stop sending after this long, even before -n or -rtt")
	window := fs.Int("inflight", client.DefaultMaxInFlight, "unacknowledged messages each publisher keeps in flight (the client's MaxInFlight);\n"+
		"the default is the in-flight limit of a default mosquitto, past which it drops QoS 1 and 2 messages")
	rtt := fs.Int("rtt", 1000, "round trips for the latency measurement")
	idle := fs.Int("idle", 100, "connections for the idle footprint")
	format := fs.String("format", "table", "output `format`: table or json")
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	if code, ok := parseNoArgs(fs, args, stderr); !ok {
		return code
	}
	modes := map[string]bool{}
	for _, m := range strings.Split(*mode, ",") {
		m = strings.TrimSpace(m)
		switch m {
		case "throughput", "latency", "idle":
			modes[m] = true
		case "all":
			modes["throughput"], modes["latency"], modes["idle"] = true, true, true
		default:
			fmt.Fprintf(stderr, "linnet bench: -mode %q: throughput, latency, idle or all\n", m)
			return exitUsage
		}
	}
	q, err := parseQoS("-q", *qos)
	if err != nil {
		return failure(stderr, "bench", err)
	}
	switch {
	case *size < 8:
		return failure(stderr, "bench", usagef("-size %d: at least 8 bytes (a sequence number)", *size))
	case *size > 64<<20:
		return failure(stderr, "bench", usagef("-size %d: at most 64 MiB", *size))
	case *pubs < 1 || *pubs > 1000, *subs < 0 || *subs > 1000:
		return failure(stderr, "bench", usagef("-pubs is 1 to 1000 and -subs 0 to 1000"))
	case *count < 1, *duration <= 0:
		return failure(stderr, "bench", usagef("-n and -duration must be positive"))
	case *window < 1 || *window > 65535:
		return failure(stderr, "bench", usagef("-inflight %d: 1 to 65535", *window))
	case *rtt < 1, *idle < 1 || *idle > 100000:
		return failure(stderr, "bench", usagef("-rtt must be positive and -idle 1 to 100000"))
	case *format != "table" && *format != "json":
		return failure(stderr, "bench", usagef("--format %q: table or json", *format))
	case cf.persistent:
		return failure(stderr, "bench", usagef("bench uses clean sessions; -c does not apply"))
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "L" || f.Name == "h" || f.Name == "p" })

	res := benchResult{Config: benchConfig{QoS: q, Size: *size, Publishers: *pubs, Subs: *subs, Count: *count,
		Window: *window, RTT: *rtt, Idle: *idle, Duration: duration.String()}}
	if !explicit {
		b, err := embedbroker.Start(embedbroker.Config{})
		if err != nil {
			return failure(stderr, "bench", err)
		}
		defer b.Close()
		cf.uri = b.URI("tcp")
		res.Embedded = true
	}
	base, _, err := cf.options(stderr)
	if err != nil {
		return failure(stderr, "bench", err)
	}
	res.Broker = base.Servers[0]
	idPrefix := cf.clientID
	if idPrefix == "" {
		idPrefix = "linnet-bench-" + randomHex(4)
	}
	b := &bench{base: base, idPrefix: idPrefix, run: randomHex(6), progress: isTerminal(stdout), out: stdout}

	ctx, cancel := signalContext()
	defer cancel()
	if modes["throughput"] {
		r, err := b.throughput(ctx, q, *size, *pubs, *subs, *count, *window, *duration)
		if err != nil {
			return failure(stderr, "bench", withCause(ctx, err))
		}
		res.Throughput = r
		if w := lossWarning(r, q, *window); w != "" {
			res.Warnings = append(res.Warnings, w)
			fmt.Fprintf(stderr, "linnet bench: warning: %s\n", w)
		}
	}
	if modes["latency"] {
		r, err := b.latency(ctx, q, *size, *rtt, *duration)
		if err != nil {
			return failure(stderr, "bench", withCause(ctx, err))
		}
		res.Latency = r
	}
	if modes["idle"] {
		r, err := b.idle(ctx, *idle)
		if err != nil {
			return failure(stderr, "bench", withCause(ctx, err))
		}
		r.ProcessIncludesBroker = res.Embedded
		res.Idle = r
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return failure(stderr, "bench", err)
		}
		return exitOK
	}
	printBench(stdout, &res)
	return exitOK
}

type bench struct {
	base     client.Options
	idPrefix string
	run      string
	progress bool
	out      io.Writer
}

func (b *bench) connect(ctx context.Context, name string, tweak func(*client.Options)) (*client.Client, error) {
	o := b.base
	o.ClientID = b.idPrefix + "-" + name
	if tweak != nil {
		tweak(&o)
	}
	c, err := client.New(o)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func closeAll(cs []*client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.Disconnect(ctx) != nil {
				_ = c.Close()
			}
		}()
	}
	wg.Wait()
}

func (b *bench) throughput(ctx context.Context, q packet.QoS, size, pubs, subs, count, window int,
	duration time.Duration) (*throughputResult, error) {
	var clients []*client.Client
	defer func() { closeAll(clients) }()

	var received atomic.Int64
	var lastRecv atomic.Int64 // unix nanos of the latest delivery
	allIn := make(chan struct{})
	var allInOnce sync.Once
	var expected atomic.Int64
	expected.Store(math.MaxInt64) // known once publishing ends
	onMsg := func(*client.Message) {
		n := received.Add(1)
		lastRecv.Store(time.Now().UnixNano())
		if n >= expected.Load() {
			allInOnce.Do(func() { close(allIn) })
		}
	}
	prefix := "linnet-bench/" + b.run + "/"
	for i := range subs {
		c, err := b.connect(ctx, fmt.Sprintf("sub-%d", i), func(o *client.Options) { o.MessageQueue = 4096 })
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
		codes, err := c.Subscribe(ctx, onMsg, client.Subscription{Filter: prefix + "#", QoS: q})
		if err != nil {
			return nil, err
		}
		if codes[0] == packet.SubackFailure {
			return nil, &subackError{filter: prefix + "#"}
		}
	}
	pubClients := make([]*client.Client, pubs)
	for i := range pubs {
		c, err := b.connect(ctx, fmt.Sprintf("pub-%d", i), func(o *client.Options) { o.MaxInFlight = window })
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
		pubClients[i] = c
	}

	var published atomic.Int64
	var stoppedByTime atomic.Bool
	start := time.Now()
	stopAt := start.Add(duration)
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	errc := make(chan error, pubs)
	var wg sync.WaitGroup
	for i, c := range pubClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- publishLoop(pctx, c, prefix+fmt.Sprint(i), q, size, count, window, stopAt, &published, &stoppedByTime)
		}()
	}
	pubDone := make(chan struct{})
	go func() { wg.Wait(); close(pubDone) }()

	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	total := int64(pubs * count)
	var pubEnd time.Time
	for pubEnd.IsZero() {
		select {
		case <-pubDone:
			pubEnd = time.Now()
		case <-tick.C:
			b.showProgress("published %d/%d  received %d", published.Load(), total, received.Load())
		case <-ctx.Done():
			pcancel()
			<-pubDone
			return nil, ctx.Err()
		}
	}
	close(errc)
	for err := range errc {
		if err != nil {
			return nil, err
		}
	}
	exp := published.Load() * int64(subs)
	expected.Store(exp)
	if received.Load() >= exp {
		allInOnce.Do(func() { close(allIn) })
	}
	// Wait for the subscribers until everything arrived or nothing has
	// arrived for two seconds (QoS 0 messages may be dropped by the broker).
	const stall = 2 * time.Second
	lastCount, lastChange := received.Load(), time.Now()
wait:
	for {
		select {
		case <-allIn:
			break wait
		case <-ctx.Done():
			return nil, ctx.Err()
		case now := <-tick.C:
			n := received.Load()
			b.showProgress("published %d  received %d/%d", published.Load(), n, exp)
			if n != lastCount {
				lastCount, lastChange = n, now
			} else if now.Sub(lastChange) > stall {
				break wait
			}
		}
	}
	b.clearProgress()
	r := &throughputResult{Published: published.Load(), Expected: exp, Received: received.Load(),
		StoppedByTime: stoppedByTime.Load()}
	r.PublishSecs = pubEnd.Sub(start).Seconds()
	r.PublishRate = float64(r.Published) / r.PublishSecs
	r.PublishMBps = r.PublishRate * float64(size) / 1e6
	if last := lastRecv.Load(); last != 0 && r.Received > 0 {
		r.ReceiveSecs = time.Unix(0, last).Sub(start).Seconds()
		r.ReceiveRate = float64(r.Received) / r.ReceiveSecs
		r.ReceiveMBps = r.ReceiveRate * float64(size) / 1e6
	}
	r.Lost = max(r.Expected-r.Received, 0)
	return r, nil
}

// publishLoop publishes count messages (or until stopAt), keeping at most
// window tokens outstanding: the oldest is waited for before a new one
// goes out.
func publishLoop(ctx context.Context, c *client.Client, topic string, q packet.QoS, size, count, window int,
	stopAt time.Time, published *atomic.Int64, stoppedByTime *atomic.Bool) error {
	ring := make([]*client.Token, 0, window)
	for i := range count {
		if i%64 == 0 && time.Now().After(stopAt) {
			stoppedByTime.Store(true)
			break
		}
		if len(ring) == window {
			if err := ring[0].Wait(ctx); err != nil {
				return err
			}
			ring = ring[1:]
			published.Add(1)
		}
		payload := make([]byte, size) // the client keeps it until the token completes
		binary.BigEndian.PutUint64(payload, uint64(i))
		ring = append(ring, c.PublishAsync(topic, q, false, payload))
	}
	for _, t := range ring {
		if err := t.Wait(ctx); err != nil {
			return err
		}
		published.Add(1)
	}
	return nil
}

// latency runs n round trips one after the other, or as many as fit in
// duration.
func (b *bench) latency(ctx context.Context, q packet.QoS, size, n int, duration time.Duration) (*latencyResult, error) {
	type arrival struct {
		seq uint64
		at  time.Time
	}
	arrived := make(chan arrival, 1)
	topic := "linnet-bench/" + b.run + "/rtt"
	c, err := b.connect(ctx, "rtt", nil)
	if err != nil {
		return nil, err
	}
	defer closeAll([]*client.Client{c})
	codes, err := c.Subscribe(ctx, func(m *client.Message) {
		if len(m.Payload) >= 8 {
			select {
			case arrived <- arrival{binary.BigEndian.Uint64(m.Payload), time.Now()}:
			default: // a duplicate; the one we wait for is already queued
			}
		}
	}, client.Subscription{Filter: topic, QoS: q})
	if err != nil {
		return nil, err
	}
	if codes[0] == packet.SubackFailure {
		return nil, &subackError{filter: topic}
	}
	samples := make([]time.Duration, 0, n)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	stopAt := time.Now().Add(duration)
	for i := range n {
		if i > 0 && time.Now().After(stopAt) {
			break
		}
		payload := make([]byte, size)
		binary.BigEndian.PutUint64(payload, uint64(i))
		t0 := time.Now()
		tok := c.PublishAsync(topic, q, false, payload)
	await:
		for {
			select {
			case a := <-arrived:
				if a.seq == uint64(i) {
					samples = append(samples, a.at.Sub(t0))
					break await
				}
			case <-tok.Done():
				if err := tok.Err(); err != nil {
					return nil, err
				}
			case <-tick.C:
				b.showProgress("round trips %d/%d", i, n)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if err := tok.Wait(ctx); err != nil {
			return nil, err
		}
	}
	b.clearProgress()
	slices.Sort(samples)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(samples)))) - 1
		return us(samples[min(max(i, 0), len(samples)-1)])
	}
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return &latencyResult{Count: len(samples), MinUs: us(samples[0]), P50Us: pct(0.50), P90Us: pct(0.90),
		P99Us: pct(0.99), P999: pct(0.999), MaxUs: us(samples[len(samples)-1]),
		Mean: us(sum) / float64(len(samples))}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
