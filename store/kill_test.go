//go:build unix

package store_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

// The kill test starts this test binary again as a child that writes to the
// store in a loop and reports every change whose call returned; the parent
// kills it with SIGKILL at a random point and checks the reports against
// what a reopened store holds.
const (
	killDirEnv   = "LINNET_STORE_KILL_DIR"
	killStartEnv = "LINNET_STORE_KILL_START"
	killSyncEnv  = "LINNET_STORE_KILL_NOSYNC"
)

// killValue is the value the child puts under key i.
func killValue(i int) []byte {
	return []byte(strings.Repeat("payload "+strconv.Itoa(i)+" ", 1+i%7))
}

// TestKillChild is not a test on its own: it is the child of TestFileKilled
// and skips unless started by it. It puts s-<i> from i = start on, removes
// s-<i-5> for odd i, calls Sync every 16 changes, prints "put <i>" or
// "remove <i>" after each call returns, and runs until it is killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		t.Skip("child process of TestFileKilled; runs only when it starts it")
	}
	start, _ := strconv.Atoi(os.Getenv(killStartEnv))
	store.SetCompaction(t, 8<<10, 4) // compact often, so that kills land inside compactions
	s := store.NewFile(store.FileOptions{Dir: dir, NoSync: os.Getenv(killSyncEnv) != ""})
	if err := s.Open(testClient, testServer); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	w := os.Stdout // unbuffered: one write(2) per line, nothing reported is held back
	for i := start; ; i++ {
		if err := s.Put("s-"+strconv.Itoa(i), killValue(i)); err != nil {
			fmt.Fprintln(w, "error", err)
			os.Exit(1)
		}
		fmt.Fprintln(w, "put", i)
		if i%2 == 1 && i-5 >= start {
			if err := s.Remove("s-" + strconv.Itoa(i-5)); err != nil {
				fmt.Fprintln(w, "error", err)
				os.Exit(1)
			}
			fmt.Fprintln(w, "remove", i-5)
		}
		if i%16 == 0 {
			if err := s.Sync(); err != nil {
				fmt.Fprintln(w, "error", err)
				os.Exit(1)
			}
		}
	}
}

// TestFileKilled kills a writing child process with SIGKILL five times at
// random points, restarting it on the same store each time (alternately
// with syncing on and off): after each kill, every record whose Put
// returned is there with its value, every record whose Remove returned is
// gone, and nothing is quarantined except, possibly, a record whose write
// was cut short by the kill.
func TestFileKilled(t *testing.T) {
	if os.Getenv(killDirEnv) != "" {
		t.Skip("inside the child")
	}
	base := t.TempDir()
	want := map[int]bool{} // key -> present
	next := 1
	for round := range 5 {
		lines := 200 + rand.IntN(1500)
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killDirEnv+"="+base, killStartEnv+"="+strconv.Itoa(next))
		if round%2 == 1 {
			cmd.Env = append(cmd.Env, killSyncEnv+"=1")
		}
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(out)
		n := 0
		last := "" // the last line the child said
		for n < lines && sc.Scan() {
			verb, arg, _ := strings.Cut(sc.Text(), " ")
			i, err := strconv.Atoi(arg)
			if verb == "error" || err != nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("child: %s", sc.Text())
			}
			want[i] = verb == "put"
			next = max(next, i+1)
			last = sc.Text()
			n++
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		// What the child printed after the line we stopped at may be
		// read or not; it is checked in the next round's store anyway.
		for sc.Scan() {
			verb, arg, _ := strings.Cut(sc.Text(), " ")
			if i, err := strconv.Atoi(arg); err == nil && verb != "error" {
				want[i] = verb == "put"
				next = max(next, i+1)
				last = sc.Text()
			}
		}
		err = cmd.Wait()
		require.Error(t, err, "the child was killed")
		// The kill may have come after a Remove returned and before the
		// child said so: after "put <i>" for an odd i, s-<i-5> may be there
		// or not (with its value if there).
		unsaid := -1
		if verb, arg, _ := strings.Cut(last, " "); verb == "put" {
			if i, err := strconv.Atoi(arg); err == nil && i%2 == 1 {
				unsaid = i - 5
			}
		}

		s := store.NewFile(store.FileOptions{Dir: base})
		require.NoError(t, s.Open(testClient, testServer))
		for i, present := range want {
			k := "s-" + strconv.Itoa(i)
			v, err := s.Get(k)
			if i == unsaid {
				// Removed or not: if there, whole; later rounds expect
				// what this one found.
				present = err == nil
				want[i] = present
			}
			if present {
				require.NoError(t, err, "round %d: %s was put before the kill", round, k)
				require.Equal(t, killValue(i), v, k)
			} else {
				require.ErrorIs(t, err, store.ErrNotFound, "round %d: %s was removed before the kill", round, k)
			}
		}
		for _, q := range s.Quarantined() {
			require.Contains(t, q.Err.Reason, "torn write", "round %d: only a write cut short by the kill", round)
		}
		require.NoError(t, s.Close())
	}
}
