package store

import (
	"os"
	"os/exec"
	"testing"
)

// Test seams. They are unexported API: only this package's tests see them.

var (
	EscapeName    = escapeName
	UnescapeName  = unescapeName
	DecodeRecord  = decodeRecord
	ProcessAlive  = processAlive
	PIDFileLock   = pidFileLock
	MaxNameLen    = maxNameLen
	LockName      = lockName
	RecordSuffix  = recordSuffix
	TempSuffix    = tempSuffix
	QuarantineDir = quarantineName
)

// CollideHashedNames makes every long name hash alike for the rest of the
// test, so that collisions of hashed names can be tested.
func CollideHashedNames(t *testing.T) {
	old := hashName
	hashName = func(string) (sum [16]byte) { return sum }
	t.Cleanup(func() { hashName = old })
}

// NameFile is the file that holds the original name of a hashed directory.
const NameFile = nameFile

// AppendRecord encodes a whole record file.
func AppendRecord(b []byte, key string, seq uint64, data []byte) []byte {
	return append(appendRecordHeader(b, key, seq, data), data...)
}

// SetMaxDataLen lowers the value size limit for the rest of the test.
func SetMaxDataLen(t *testing.T, n int) {
	old := maxDataLen
	maxDataLen = n
	t.Cleanup(func() { maxDataLen = old })
}

// DeadPID returns the PID of a process that has exited and been reaped: the
// test binary run with no tests.
func DeadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LINNET_STORE_HELPER=")
	if err := cmd.Run(); err != nil {
		t.Fatalf("running a short-lived child: %v", err)
	}
	return cmd.ProcessState.Pid()
}
