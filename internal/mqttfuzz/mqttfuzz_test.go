package mqttfuzz

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/leaktest"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// TestGenerateIsDeterministic checks that a case is a function of the seed
// and its index, and that the generator starts from valid sequences.
func TestGenerateIsDeterministic(t *testing.T) {
	for i := range 200 {
		a, b := Generate(42, i, "p"), Generate(42, i, "p")
		require.Len(t, b.Chunks, len(a.Chunks), "case %d", i)
		for j := range a.Chunks {
			require.True(t, a.Chunks[j].Desc == b.Chunks[j].Desc && bytes.Equal(a.Chunks[j].Bytes, b.Chunks[j].Bytes), "case %d chunk %d", i, j)
		}
		require.NotEmpty(t, a.Chunks)
	}
	require.NotEqual(t, Generate(42, 1, "p").Chunks[0].Bytes, Generate(43, 1, "p").Chunks[0].Bytes)

	// Without mutation every packet is legal; count how many chunks of a
	// run are still legal to see that both kinds occur.
	legal, illegal := 0, 0
	for i := range 300 {
		for _, ch := range Generate(7, i, "p").Chunks {
			if _, n, err := packet.Decode(ch.Bytes); err == nil && n == len(ch.Bytes) {
				legal++
			} else {
				illegal++
			}
		}
	}
	require.Greater(t, legal, illegal, "most chunks stay valid so that the broker gets deep into its states")
	require.Greater(t, illegal, 50, "mutations must produce illegal input")
}

// TestFormatParseRoundTrip checks that a saved case reads back byte for
// byte, chunk for chunk, with its seed and index.
func TestFormatParseRoundTrip(t *testing.T) {
	for i := range 50 {
		c := Generate(99, i, "p")
		var b strings.Builder
		require.NoError(t, Format(&b, c, "tcp://127.0.0.1:1883", errors.New("broker hung")))
		got, err := ParseCase(b.String())
		require.NoError(t, err)
		require.Equal(t, c.Seed, got.Seed)
		require.Equal(t, c.Index, got.Index)
		require.Len(t, got.Chunks, len(c.Chunks))
		for j := range c.Chunks {
			require.Equal(t, c.Chunks[j].Bytes, got.Chunks[j].Bytes)
		}
	}
	_, err := ParseCase("# nothing\n")
	require.ErrorIs(t, err, ErrBadCase)
	_, err = ParseCase("zz")
	require.ErrorIs(t, err, ErrBadCase)
	c, err := ParseCase("c0 00 # PINGREQ\n0xe0 00")
	require.NoError(t, err)
	require.Equal(t, []Chunk{{Bytes: []byte{0xc0, 0x00, 0xe0, 0x00}}}, c.Chunks)
}

func TestLoopback(t *testing.T) {
	for uri, want := range map[string]bool{
		"tcp://127.0.0.1:1883": true, "tcp://localhost": true, "ws://[::1]:80/mqtt": true,
		"unix:///tmp/x.sock": true, "tcp://192.0.2.1:1883": false, "ssl://example.com": false, "bogus": false,
	} {
		require.Equal(t, want, Loopback(uri), uri)
	}
}

// TestFuzzMochi runs a short campaign against mochi in process: it ends
// without a finding.
func TestFuzzMochi(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	rep, err := Run(context.Background(), Config{URI: b.URI("tcp"), Seed: 1, N: 150, Duration: 20 * time.Second,
		Timeout: 3 * time.Second, Linger: 20 * time.Millisecond})
	require.NoError(t, err)
	require.Empty(t, rep.Findings)
	require.Positive(t, rep.Cases)
}

// TestFuzzMosquitto runs a short campaign against mosquitto.
func TestFuzzMosquitto(t *testing.T) {
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{})
	rep, err := Run(context.Background(), Config{URI: m.URI(), Seed: 2, N: 150, Duration: 20 * time.Second,
		Timeout: 3 * time.Second, Linger: 20 * time.Millisecond})
	require.NoError(t, err)
	require.Empty(t, rep.Findings, "mosquitto output:\n%s", m.Output())
	require.Positive(t, rep.Cases)
}

// TestFindingDetectedSavedReplayed runs against a fake broker that hangs
// for everyone once it sees an UNSUBSCRIBE: the fuzzer must report it,
// save the case, and the saved case must parse, contain an UNSUBSCRIBE and
// reproduce the hang on a fresh broker, but not on a healthy one.
func TestFindingDetectedSavedReplayed(t *testing.T) {
	dir := t.TempDir()
	fb := startFragile(t)
	rep, err := Run(context.Background(), Config{URI: fb.uri, Seed: 5, N: 200, Timeout: 500 * time.Millisecond,
		Linger: 10 * time.Millisecond, OutDir: dir})
	require.NoError(t, err)
	require.Len(t, rep.Findings, 1)
	f := rep.Findings[0]
	require.ErrorIs(t, f.Err, ErrNotLive)
	require.FileExists(t, f.File)

	text, err := os.ReadFile(f.File)
	require.NoError(t, err)
	require.Contains(t, string(text), "# what happened: mqttfuzz: the broker failed the liveness probe")
	c, err := ParseCase(string(text))
	require.NoError(t, err)
	require.Equal(t, f.Case.Index, c.Index)
	sawUnsubscribe := false
	for _, ch := range c.Chunks {
		if len(ch.Bytes) > 0 && ch.Bytes[0]>>4 == byte(packet.TypeUnsubscribe) {
			sawUnsubscribe = true
		}
	}
	require.True(t, sawUnsubscribe, "the saved case holds the packet that hangs the broker:\n%s", text)

	again, err := Replay(context.Background(), Config{URI: startFragile(t).uri, Timeout: 500 * time.Millisecond, Linger: 10 * time.Millisecond}, c)
	require.NoError(t, err)
	require.NotNil(t, again, "the replay reproduces the hang")

	healthy := testbroker.StartMochi(t, testbroker.MochiConfig{})
	again, err = Replay(context.Background(), Config{URI: healthy.URI("tcp"), Timeout: 3 * time.Second}, c)
	require.NoError(t, err)
	require.Nil(t, again, "a healthy broker survives the case")
}

// TestRunRefusesDeadBroker checks that a broker that is not live before
// the first case is an error, not a finding.
func TestRunRefusesDeadBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = Run(context.Background(), Config{URI: "tcp://" + addr, N: 1, Timeout: time.Second})
	require.ErrorIs(t, err, ErrNotLive)
}

// fragile is a broker that serves the liveness probe but, once any client
// sends UNSUBSCRIBE, stops serving everyone (a global lock never released),
// the kind of bug the fuzzer exists to find.
type fragile struct {
	uri  string
	ln   net.Listener
	sem  chan struct{} // the broker's lock: held for good after an UNSUBSCRIBE
	done chan struct{}
	wg   sync.WaitGroup
}

func startFragile(t *testing.T) *fragile {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fragile{uri: "tcp://" + ln.Addr().String(), ln: ln, done: make(chan struct{}), sem: make(chan struct{}, 1)}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(nc)
			}()
		}
	}()
	t.Cleanup(func() {
		close(f.done)
		_ = ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fragile) serve(nc net.Conn) {
	defer nc.Close()
	stop := context.AfterFunc(doneCtx(f.done), func() { _ = nc.Close() })
	defer stop()
	r, w := packet.NewReader(nc), packet.NewWriter(nc)
	var subs []string
	for {
		p, err := r.ReadPacket()
		if err != nil {
			return
		}
		if !f.lock() {
			return
		}
		var out []packet.Packet
		hang := false
		switch p := p.(type) {
		case *packet.Connect:
			out = append(out, &packet.Connack{})
		case *packet.Subscribe:
			codes := make([]packet.SubackCode, len(p.Subscriptions))
			for i, s := range p.Subscriptions {
				codes[i] = packet.SubackCode(s.QoS)
				subs = append(subs, s.Filter)
			}
			out = append(out, &packet.Suback{PacketID: p.PacketID, ReturnCodes: codes})
		case *packet.Publish:
			if p.QoS == 1 {
				out = append(out, &packet.Puback{PacketID: p.PacketID})
			}
			for _, s := range subs {
				if packet.MatchTopic(s, p.Topic) {
					out = append(out, &packet.Publish{Topic: p.Topic, Payload: p.Payload})
					break
				}
			}
		case *packet.Pingreq:
			out = append(out, &packet.Pingresp{})
		case *packet.Unsubscribe:
			hang = true
		case *packet.Disconnect:
			<-f.sem
			return
		}
		for _, q := range out {
			_ = w.Queue(q)
		}
		_ = w.Flush()
		if !hang {
			<-f.sem
		}
	}
}

// lock takes the broker's lock, or gives up when the test ends.
func (f *fragile) lock() bool {
	select {
	case f.sem <- struct{}{}:
		return true
	case <-f.done:
		return false
	}
}

func doneCtx(done chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-done; cancel() }()
	return ctx
}
