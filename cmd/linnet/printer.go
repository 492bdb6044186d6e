package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

// printer writes messages for sub. It runs on the client's dispatcher
// goroutine; stop makes later messages no-ops so that nothing is written
// after runSub returns.
type printer struct {
	w              *bufio.Writer
	errOut         io.Writer
	verbose        bool
	json           bool // --format json
	pretty         bool
	format         []fmtOp // -F, nil when not given
	eol            bool    // not -N
	noRetained     bool
	retainedOnly   bool
	filterOut      []string
	max            int
	done           chan struct{}
	removeRetained func(topic string) // --remove-retained
	now            func() time.Time

	mu      sync.Mutex
	n       int
	stopped bool
	err     error
	buf     []byte
}

type jsonMessage struct {
	Topic         string  `json:"topic"`
	QoS           byte    `json:"qos"`
	Retain        bool    `json:"retain"`
	Payload       *string `json:"payload,omitempty"`
	PayloadBase64 *string `json:"payload_base64,omitempty"`
}

func (p *printer) handle(m *client.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	if p.retainedOnly && !m.Retain {
		// --retained-only: the first message that is not retained ends it.
		p.finish()
		return
	}
	if p.noRetained && m.Retain {
		return
	}
	for _, f := range p.filterOut {
		if packet.MatchTopic(f, m.Topic) {
			return
		}
	}
	if p.removeRetained != nil && m.Retain {
		p.removeRetained(m.Topic)
	}
	p.write(m)
	if err := p.w.Flush(); err != nil && p.err == nil {
		p.err = err
	}
	p.n++
	if p.max > 0 && p.n == p.max {
		p.finish()
	}
}

// write prints one message as mosquitto_sub does: with -F its format; with
// -v "topic payload" ("topic (null)" for an empty payload); else the
// payload alone, and nothing at all for an empty payload. -N leaves out the
// end of line.
func (p *printer) write(m *client.Message) {
	switch {
	case p.format != nil:
		b, err := render(p.buf[:0], p.format, m, p.now(), p.pretty)
		p.buf = b
		if err != nil {
			fmt.Fprintf(p.errOut, "linnet sub: %v\n", err)
		}
		p.w.Write(b)
	case p.json:
		jm := jsonMessage{Topic: m.Topic, QoS: byte(m.QoS), Retain: m.Retain}
		if utf8.Valid(m.Payload) {
			s := string(m.Payload)
			jm.Payload = &s
		} else {
			s := base64.StdEncoding.EncodeToString(m.Payload)
			jm.PayloadBase64 = &s
		}
		var b []byte
		if p.pretty {
			b, _ = json.MarshalIndent(jm, "", "  ") // strings, a byte and a bool: cannot fail
		} else {
			b, _ = json.Marshal(jm)
		}
		p.w.Write(b)
	case p.verbose:
		if len(m.Payload) == 0 {
			if p.eol {
				p.w.WriteString(m.Topic + " (null)\n")
			}
			return
		}
		p.w.WriteString(m.Topic)
		p.w.WriteByte(' ')
		p.w.Write(m.Payload)
	default:
		if len(m.Payload) == 0 {
			return
		}
		p.w.Write(m.Payload)
	}
	if p.eol {
		p.w.WriteByte('\n')
	}
}

func (p *printer) finish() {
	p.stopped = true
	close(p.done)
}

func (p *printer) printed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *printer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
}
