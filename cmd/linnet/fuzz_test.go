package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/mqttfuzz"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
)

// TestFuzzAgainstMochi runs a short, seeded campaign: no finding, exit 0.
func TestFuzzAgainstMochi(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	code, out, errOut := runCmd(t, "", "fuzz", "-n", "40", "-seed", "3", "-linger", "10ms", "-out", t.TempDir(), b.URI("tcp"))
	require.Equal(t, exitOK, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, out, "seed 3, 40 cases")
	require.Contains(t, out, "no finding")
}

// TestFuzzFindingDumpAndReplay runs against a broker that stops serving
// everyone after an UNSUBSCRIBE: the finding is reported with exit 3,
// saved, decoded by dump -x, and replayed (reproduced on a fresh fragile
// broker, not on mochi).
func TestFuzzFindingDumpAndReplay(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, "", "fuzz", "-n", "200", "-seed", "5", "-timeout", "500ms", "-linger", "10ms",
		"-out", dir, startHangOnUnsubscribe(t))
	require.Equal(t, exitInvalid, code, "stdout: %s\nstderr: %s", out, errOut)
	require.Contains(t, out, "FINDING after case")
	files, err := filepath.Glob(filepath.Join(dir, "finding-5-*.hex"))
	require.NoError(t, err)
	require.Len(t, files, 1)

	code, dumped, _ := runCmd(t, "", "dump", "-x", files[0])
	require.Contains(t, []int{exitOK, exitInvalid}, code, "dump decodes up to the first malformed packet")
	text, err := os.ReadFile(files[0])
	require.NoError(t, err)
	c, err := mqttfuzz.ParseCase(string(text))
	require.NoError(t, err)
	if first, _, err := packet.Decode(c.Chunks[0].Bytes); err == nil {
		require.True(t, strings.HasPrefix(dumped, "000000  "+first.String()), dumped)
	}

	code, out, _ = runCmd(t, "", "fuzz", "--replay", files[0], "-timeout", "500ms", startHangOnUnsubscribe(t))
	require.Equal(t, exitInvalid, code, out)
	require.Contains(t, out, "REPRODUCED")

	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	code, out, _ = runCmd(t, "", "fuzz", "--replay", files[0], b.URI("tcp"))
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "not reproduced")
}

// TestFuzzRefusals covers remote targets, bad flags and unreadable files.
func TestFuzzRefusals(t *testing.T) {
	code, _, errOut := runCmd(t, "", "fuzz", "tcp://192.0.2.1:1883")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--allow-remote")
	for _, args := range [][]string{{"fuzz"}, {"fuzz", "-n", "0", "tcp://127.0.0.1:1883"}, {"fuzz", "bogus://x"}} {
		code, _, errOut := runCmd(t, "", args...)
		require.Equal(t, exitUsage, code, "%v: %s", args, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.hex")
	require.NoError(t, os.WriteFile(bad, []byte("# nothing but a comment\n"), 0o644))
	code, _, _ = runCmd(t, "", "fuzz", "--replay", bad, "tcp://127.0.0.1:1883")
	require.Equal(t, exitUsage, code)
	code, _, _ = runCmd(t, "", "fuzz", "--replay", filepath.Join(t.TempDir(), "missing"), "tcp://127.0.0.1:1883")
	require.Equal(t, exitFailure, code)
	code, _, errOut = runCmd(t, "", "fuzz", "-n", "1", "-timeout", "1s", "tcp://"+closedPort(t))
	require.Equal(t, exitFailure, code)
	require.Contains(t, errOut, "not alive")
}

// startHangOnUnsubscribe starts a broker that answers CONNECT, SUBSCRIBE
// and PUBLISH (echoing to its own subscriber, enough for the liveness
// probe) until any client sends UNSUBSCRIBE; from then on it answers no
// one. It returns its URI.
func startHangOnUnsubscribe(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		dead  bool
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				r, w := packet.NewReader(nc), packet.NewWriter(nc)
				for {
					p, err := r.ReadPacket()
					if err != nil {
						return
					}
					mu.Lock()
					if _, ok := p.(*packet.Unsubscribe); ok {
						dead = true
					}
					d := dead
					mu.Unlock()
					if d {
						continue // hung: reads, never answers
					}
					switch p := p.(type) {
					case *packet.Connect:
						_ = w.WritePacket(&packet.Connack{})
					case *packet.Subscribe:
						codes := make([]packet.SubackCode, len(p.Subscriptions))
						_ = w.WritePacket(&packet.Suback{PacketID: p.PacketID, ReturnCodes: codes})
					case *packet.Publish:
						if p.QoS == 1 {
							_ = w.Queue(&packet.Puback{PacketID: p.PacketID})
						}
						_ = w.Queue(&packet.Publish{Topic: p.Topic, Payload: p.Payload})
						_ = w.Flush()
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "tcp://" + ln.Addr().String()
}
