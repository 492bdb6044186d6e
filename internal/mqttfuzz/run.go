package mqttfuzz

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// Defaults for the zero values of Config.
const (
	DefaultN       = 1000
	DefaultTimeout = 5 * time.Second
	DefaultLinger  = 100 * time.Millisecond
)

// Config says what to fuzz and for how long.
type Config struct {
	// URI is the broker, the only address the fuzzer connects to.
	URI string
	// Transport holds options for transport.Dial (TLS configuration...).
	Transport []transport.Option
	// Username and Password go in the CONNECT of the liveness probe.
	Username string
	Password []byte
	// Seed makes the run reproducible; zero means a random seed, which
	// Report.Seed gives back.
	Seed uint64
	// N bounds the number of cases; zero means DefaultN.
	N int
	// Duration bounds the run's time; zero means no bound but N.
	Duration time.Duration
	// Timeout bounds the liveness probe and each write; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Linger is how long the broker's answers to a case are read before
	// the connection is closed; zero means DefaultLinger.
	Linger time.Duration
	// OutDir receives a file per finding; empty saves nothing.
	OutDir string
	// Prefix starts every client id and topic; empty means "lntfuzz".
	Prefix string
	// Logger receives a debug record per case; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if err := transport.Validate(c.URI); err != nil {
		return c, err
	}
	if c.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.Seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	if c.N <= 0 {
		c.N = DefaultN
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Linger <= 0 {
		c.Linger = DefaultLinger
	}
	if c.Prefix == "" {
		c.Prefix = "lntfuzz"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Finding is a case after which the broker failed the liveness probe.
type Finding struct {
	Case Case
	Err  error  // what the probe saw
	File string // where the case was saved; empty when Config.OutDir is
}

// Report is the outcome of Run.
type Report struct {
	Seed     uint64 // the seed used, to run again with -seed
	Cases    int    // cases sent
	Elapsed  time.Duration
	Findings []Finding
}

// ErrNotLive is a broker that fails the liveness probe; it wraps what the
// probe saw.
var ErrNotLive = errors.New("mqttfuzz: the broker failed the liveness probe")

// Run probes the broker, then sends up to cfg.N cases, each followed by a
// liveness probe, until cfg.Duration or ctx ends. It stops at the first
// finding: a broker that is down or hung makes later cases meaningless.
// It returns an error wrapping ErrNotLive when the broker fails the probe
// before the first case.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg, err := cfg.withDefaults()
	rep := Report{Seed: cfg.Seed}
	if err != nil {
		return rep, err
	}
	start := time.Now()
	defer func() { rep.Elapsed = time.Since(start) }()
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	if err := Probe(ctx, cfg); err != nil {
		return rep, err
	}
	for i := 0; i < cfg.N && ctx.Err() == nil; i++ {
		c := Generate(cfg.Seed, i, cfg.Prefix)
		Execute(ctx, cfg, c)
		rep.Cases++
		err := Probe(ctx, cfg)
		cfg.Logger.Debug("mqttfuzz case", "index", i, "chunks", len(c.Chunks), "probe", err)
		if err == nil || ctx.Err() != nil {
			continue
		}
		f := Finding{Case: c, Err: err}
		if cfg.OutDir != "" {
			f.File, err = Save(cfg.OutDir, cfg.URI, f)
			if err != nil {
				return rep, err
			}
		}
		rep.Findings = append(rep.Findings, f)
		break
	}
	return rep, nil
}

// Replay sends c once and probes the broker: a non-nil Finding means the
// broker failed the probe after it, as when it was found.
func Replay(ctx context.Context, cfg Config, c Case) (*Finding, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := Probe(ctx, cfg); err != nil {
		return nil, err
	}
	Execute(ctx, cfg, c)
	if err := Probe(ctx, cfg); err != nil {
		return &Finding{Case: c, Err: err}, nil
	}
	return nil, nil
}

// Execute writes the chunks of c on a new connection, reads what the
// broker answers for cfg.Linger, and closes. What the broker does with the
// input is its business; only the liveness probe afterwards judges it. It
// returns the number of bytes the broker sent back.
func Execute(ctx context.Context, cfg Config, c Case) int {
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	nc, err := transport.Dial(dctx, cfg.URI, cfg.Transport...)
	if err != nil {
		return 0
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stop()
	// Read concurrently, so that a broker answering a long case never
	// blocks on a full socket while we write.
	got := make(chan int, 1)
	go func() {
		n, _ := io.Copy(io.Discard, nc)
		got <- int(n)
	}()
	for _, ch := range c.Chunks {
		_ = nc.SetWriteDeadline(time.Now().Add(cfg.Timeout))
		if _, err := nc.Write(ch.Bytes); err != nil {
			break
		}
	}
	_ = nc.SetReadDeadline(time.Now().Add(cfg.Linger))
	return <-got
}

// Probe checks that the broker is alive: a fresh connection, CONNECT and
// CONNACK, a subscription, and a QoS 1 message round trip to itself, all
// within cfg.Timeout.
func Probe(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	err := probe(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (no answer within %v)", err, cfg.Timeout)
		}
		return fmt.Errorf("%w: %w", ErrNotLive, err)
	}
	return nil
}

// probes numbers the probes of the process, for their client ids.
var probes atomic.Uint64

func probe(ctx context.Context, cfg Config) error {
	nc, err := transport.Dial(ctx, cfg.URI, cfg.Transport...)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	w, r := packet.NewWriter(nc), packet.NewReader(nc)
	// The probe's topic is outside the cases' topics (Prefix + "/..."), so
	// that sessions the cases left behind never receive, and never queue,
	// the probe's messages.
	topic := cfg.Prefix + "probe/alive"
	// A new client id each time: a broker still tearing down the previous
	// probe's session must not make this one wait.
	con := &packet.Connect{ClientID: fmt.Sprintf("%sprobe%d", cfg.Prefix, probes.Add(1)), CleanSession: true, KeepAlive: 30}
	if cfg.Username != "" {
		con.UsernameFlag, con.Username = true, cfg.Username
		if cfg.Password != nil {
			con.PasswordFlag, con.Password = true, cfg.Password
		}
	}
	for _, p := range []packet.Packet{con,
		&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: topic, QoS: 1}}},
		&packet.Publish{QoS: 1, PacketID: 2, Topic: topic, Payload: []byte("alive")}} {
		if err := w.Queue(p); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	var connack, suback, puback, echo bool
	for !(connack && suback && puback && echo) {
		p, err := r.ReadPacket()
		if err != nil {
			return fmt.Errorf("reading: %w", err)
		}
		switch p := p.(type) {
		case *packet.Connack:
			if p.ReturnCode != packet.Accepted {
				return fmt.Errorf("CONNACK %v", p.ReturnCode)
			}
			connack = true
		case *packet.Suback:
			suback = true
		case *packet.Puback:
			puback = true
		case *packet.Publish:
			if p.Topic == topic && string(p.Payload) == "alive" {
				echo = true
				if p.QoS > 0 {
					_ = w.WritePacket(&packet.Puback{PacketID: p.PacketID})
				}
			}
		}
	}
	_ = w.WritePacket(&packet.Disconnect{})
	return nil
}

// Format writes c as hex text with comments: a header saying what was
// found and how to replay it, then one block per chunk. `linnet dump -x`
// decodes it; ParseCase reads it back.
func Format(w io.Writer, c Case, target string, finding error) error {
	var b strings.Builder
	b.WriteString("# linnet fuzz finding\n")
	if finding != nil {
		fmt.Fprintf(&b, "# what happened: %s\n", oneLine(finding.Error()))
	}
	if target != "" {
		fmt.Fprintf(&b, "# target: %s\n", target)
	}
	fmt.Fprintf(&b, "# seed %d, case %d (linnet fuzz -seed %d regenerates it as case %d)\n", c.Seed, c.Index, c.Seed, c.Index)
	b.WriteString("# replay: linnet fuzz --replay THIS-FILE BROKER-URI; decode: linnet dump -x THIS-FILE\n")
	for i, ch := range c.Chunks {
		fmt.Fprintf(&b, "\n# packet %d: %s\n", i+1, oneLine(ch.Desc))
		for off := 0; off < len(ch.Bytes); off += 32 {
			end := min(off+32, len(ch.Bytes))
			fmt.Fprintf(&b, "% x\n", ch.Bytes[off:end])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Save writes finding f to a new file in dir and returns its path.
func Save(dir, target string, f Finding) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("mqttfuzz: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("finding-%d-%d.hex", f.Case.Seed, f.Case.Index))
	var b strings.Builder
	_ = Format(&b, f.Case, target, f.Err)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("mqttfuzz: %w", err)
	}
	return path, nil
}

// ErrBadCase is a case file that cannot be read.
var ErrBadCase = errors.New("mqttfuzz: not a case file")

// ParseCase reads a case written by Format, or any hex text in the format
// of `linnet dump -x` (white space, 0x prefixes and # comments ignored).
// Lines "# packet N: ..." start a new chunk; text without them is one
// chunk. The seed and case number are read back from the header when
// present.
func ParseCase(text string) (Case, error) {
	var c Case
	var cur *Chunk
	for n, line := range strings.Split(text, "\n") {
		trim := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(trim, "# packet "); ok {
			_, desc, _ := strings.Cut(rest, ": ")
			c.Chunks = append(c.Chunks, Chunk{Desc: desc})
			cur = &c.Chunks[len(c.Chunks)-1]
			continue
		}
		if rest, ok := strings.CutPrefix(trim, "# seed "); ok {
			_, _ = fmt.Sscanf(rest, "%d, case %d", &c.Seed, &c.Index)
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			f = strings.TrimPrefix(strings.TrimPrefix(f, "0x"), "0X")
			if len(f)%2 != 0 {
				return c, fmt.Errorf("%w: line %d: %q is an odd number of hex digits", ErrBadCase, n+1, f)
			}
			b, err := hex.DecodeString(f)
			if err != nil {
				return c, fmt.Errorf("%w: line %d: %q is not hex", ErrBadCase, n+1, f)
			}
			if cur == nil {
				c.Chunks = append(c.Chunks, Chunk{})
				cur = &c.Chunks[len(c.Chunks)-1]
			}
			cur.Bytes = append(cur.Bytes, b...)
		}
	}
	// Drop chunks that ended up empty.
	out := c.Chunks[:0]
	for _, ch := range c.Chunks {
		if len(ch.Bytes) > 0 {
			out = append(out, ch)
		}
	}
	c.Chunks = out
	if len(c.Chunks) == 0 {
		return c, fmt.Errorf("%w: no bytes", ErrBadCase)
	}
	return c, nil
}

// Loopback reports whether uri names this machine: a unix socket, or a host
// that is localhost or a loopback address.
func Loopback(uri string) bool {
	u, err := transport.Parse(uri)
	if err != nil {
		return false
	}
	if u.Scheme == "unix" {
		return true
	}
	if u.Host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(u.Host, "[]"))
	return ip != nil && ip.IsLoopback()
}
