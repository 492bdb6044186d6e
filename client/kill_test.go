package client

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
)

const (
	killEnvRole   = "LINNET_KILL_CHILD" // "publish" or "resume"
	killEnvBroker = "LINNET_KILL_BROKER"
	killEnvDir    = "LINNET_KILL_DIR"
	killClientID  = "killed-client"
	killMessages  = 2000
)

// killTopic returns the topic and QoS of message i: even ones at QoS 1,
// odd ones at QoS 2.
func killTopic(i int) (string, packet.QoS) {
	if i%2 == 0 {
		return "kill/q1", 1
	}
	return "kill/q2", 2
}

// TestPersistentSessionAfterSIGKILL checks that QoS 1 and 2 messages
// survive the death of the client process with the file store: a child
// process publishes a stream and is killed with SIGKILL mid-stream; a
// second process with the same store resumes the session. Every message
// whose token completed, and every message the store held at the kill,
// reaches the subscriber, and no QoS 2 message arrives twice;
// [MQTT-4.4.0-1]: the stored in-flight messages are sent again on resume.
func TestPersistentSessionAfterSIGKILL(t *testing.T) {
	if os.Getenv(killEnvRole) != "" {
		t.Skip("child process")
	}
	m := testbroker.StartMochi(t, testbroker.MochiConfig{})
	uri := m.URI("tcp")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	got := make(chan *Message, 2*killMessages)
	b := brokerTarget{"mochi", uri, nil}
	watcher := b.connected(t, "kill-watcher", nil)
	_, err := watcher.Subscribe(ctx, func(m *Message) { got <- m }, Subscription{Filter: "kill/#", QoS: 2})
	require.NoError(t, err)

	child := func(role string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKillChild$", "-test.v")
		cmd.Env = append(os.Environ(), killEnvRole+"="+role, killEnvBroker+"="+uri, killEnvDir+"="+dir)
		cmd.Stderr = os.Stderr
		return cmd
	}

	// First process: publish, and die at the 300th completion.
	cmd := child("publish")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	completed := map[int]bool{}
	lines := bufio.NewScanner(out)
	for lines.Scan() && len(completed) < 300 {
		if n, ok := strings.CutPrefix(lines.Text(), "done "); ok {
			i, err := strconv.Atoi(n)
			require.NoError(t, err)
			completed[i] = true
		}
	}
	require.Len(t, completed, 300, "the child stopped early")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	// What the store holds now must be delivered after the resume.
	expect := map[int]bool{}
	for i := range completed {
		expect[i] = true
	}
	fs := store.NewFile(store.FileOptions{Dir: dir})
	require.NoError(t, fs.Open(killClientID, uri))
	keys, err := fs.Keys()
	require.NoError(t, err)
	stored := 0
	for _, k := range keys {
		if !strings.HasPrefix(k, "s-") {
			continue
		}
		data, err := fs.Get(k)
		require.NoError(t, err)
		p, _, err := packet.Decode(data)
		require.NoError(t, err)
		i, err := strconv.Atoi(string(p.(*packet.Publish).Payload))
		require.NoError(t, err)
		expect[i] = true
		stored++
	}
	require.NoError(t, fs.Close())
	t.Logf("killed with %d completed and %d stored in flight", len(completed), stored)

	// Second process: resume and finish what is in flight.
	require.NoError(t, child("resume").Run())

	seen := map[int]int{}
	for missing := len(expect); missing > 0; {
		select {
		case m := <-got:
			i, err := strconv.Atoi(string(m.Payload))
			require.NoError(t, err)
			seen[i]++
			if expect[i] && seen[i] == 1 {
				missing--
			}
		case <-ctx.Done():
			var lost []int
			for i := range expect {
				if seen[i] == 0 {
					lost = append(lost, i)
				}
			}
			t.Fatalf("lost messages: %v", lost)
		}
	}
	// A marker behind everything: duplicates would have come before it.
	require.NoError(t, watcher.Publish(ctx, "kill/q2", 2, false, []byte("-1")))
	for {
		m := <-got
		if string(m.Payload) == "-1" {
			break
		}
		i, _ := strconv.Atoi(string(m.Payload))
		seen[i]++
	}
	for i, n := range seen {
		if _, qos := killTopic(i); qos == 2 && n > 1 {
			t.Errorf("QoS 2 message %d delivered %d times", i, n)
		}
	}
}

// TestKillChild is the child process of TestPersistentSessionAfterSIGKILL;
// it does nothing in a normal run.
func TestKillChild(t *testing.T) {
	role := os.Getenv(killEnvRole)
	if role == "" {
		t.Skip("only run as the child of TestPersistentSessionAfterSIGKILL")
	}
	fs := store.NewFile(store.FileOptions{Dir: os.Getenv(killEnvDir)})
	c, err := New(Options{
		Servers:           []string{os.Getenv(killEnvBroker)},
		ClientID:          killClientID,
		PersistentSession: true,
		Persistence:       fs,
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, c.Connect(ctx))
	if role == "resume" {
		require.NoError(t, c.Disconnect(ctx)) // waits for the restored messages
		return
	}
	toks := make([]*Token, killMessages)
	for i := range toks {
		topic, qos := killTopic(i)
		toks[i] = c.PublishAsync(topic, qos, false, []byte(strconv.Itoa(i)))
	}
	for i, tok := range toks {
		require.NoError(t, tok.Wait(ctx))
		fmt.Printf("done %d\n", i)
	}
	select {} // wait for the kill
}
