package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
)

// maxPayload is the largest payload of a PUBLISH on topic at QoS q: the
// largest remaining length less the topic and the packet id.
func maxPayload(topic string, q packet.QoS) int {
	n := packet.MaxRemainingLength - 2 - len(topic)
	if q > 0 {
		n -= 2
	}
	return n
}

// tooLargeError is an input larger than one MQTT message can carry.
type tooLargeError struct {
	what string
	size int64 // -1 when only "more than max" is known
	max  int
}

func (e *tooLargeError) Error() string {
	size := "more than " + strconv.Itoa(e.max) + " bytes"
	if e.size >= 0 {
		size = strconv.FormatInt(e.size, 10) + " bytes"
	}
	return fmt.Sprintf("%s: %s, larger than the largest MQTT message on this topic (%d bytes of payload)", e.what, size, e.max)
}

// readPayload reads r whole as one payload of at most max bytes. When r is
// a regular file its size is checked before anything is read; otherwise
// reading stops at max+1 bytes, so that a larger input costs no more
// memory than the largest message.
func readPayload(r io.Reader, what string, max int) ([]byte, error) {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if fi.Size() > int64(max) {
				return nil, &tooLargeError{what: what, size: fi.Size(), max: max}
			}
		}
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if len(b) > max {
		return nil, &tooLargeError{what: what, size: -1, max: max}
	}
	return b, nil
}

// readFile is readPayload on a file.
func readFile(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("-f: %v", err)
	}
	defer f.Close()
	return readPayload(f, "-f "+path, max)
}

// eachLine calls publish with each non-empty line of r (without its end of
// line), reading as a stream: a line longer than max fails before it is
// read whole.
func eachLine(r io.Reader, max int, publish func([]byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), max+1)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := publish(append([]byte(nil), sc.Bytes()...)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &tooLargeError{what: "a line of standard input", size: -1, max: max}
		}
		return fmt.Errorf("reading standard input: %w", err)
	}
	return nil
}

// secondsFlag is a time in seconds as mosquitto takes it ("2", "0.5"), or
// a Go duration ("500ms").
type secondsFlag struct{ d *time.Duration }

func (s secondsFlag) String() string {
	if s.d == nil {
		return "0"
	}
	return strconv.FormatFloat(s.d.Seconds(), 'f', -1, 64)
}

func (s secondsFlag) Set(v string) error {
	if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
		if f < 0 || f > 1e9 {
			return errors.New("seconds must be 0 or more")
		}
		*s.d = time.Duration(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("want seconds (2, 0.5) or a duration (500ms)")
	}
	if d < 0 {
		return errors.New("must not be negative")
	}
	*s.d = d
	return nil
}
