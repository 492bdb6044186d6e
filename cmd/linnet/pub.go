package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

func init() {
	commands["pub"] = command{"publish a message, a file, standard input or its lines", runPub}
}

const pubUsage = `Usage: linnet pub [flags] -t TOPIC (-m MESSAGE | -f FILE | -s | -l | -n)

Connects, publishes and disconnects, like mosquitto_pub. With QoS 1 or 2 it
returns once the broker has acknowledged every message; with -l or --repeat
up to -M messages are in flight at once. The input (-f, -s) is read before
connecting, and refused if it is larger than an MQTT message can carry.

Examples:
  linnet pub -t sensors/t1 -m 21.5
  linnet pub -h broker.local -p 1883 -q 1 -r -t config/mode -m eco
  linnet pub -L mqtts://alice:secret@127.0.0.1:8883/sensors/t1 --cafile ca.pem -m 21.5
  linnet pub -L ws://127.0.0.1:8080/mqtt -t a/b -f image.png
  tail -f app.log | linnet pub -t logs/app -l
  linnet pub -t status/dev1 -m online -r --will-topic status/dev1 --will-payload offline --will-retain
  linnet pub -t a/b -m tick --repeat 10 --repeat-delay 0.5
  linnet pub -t a/b -m x --proxy socks5h://127.0.0.1:1080 -h broker.internal

`

func runPub(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linnet pub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf connFlags
	cf.register(fs)
	topic := fs.String("t", "", "`topic` to publish to")
	message := fs.String("m", "", "the `message` to publish")
	file := fs.String("f", "", "publish the contents of `file` as one message")
	whole := fs.Bool("s", false, "publish all of standard input as one message")
	lines := fs.Bool("l", false, "publish each line of standard input as a message (blank lines are skipped)")
	null := fs.Bool("n", false, "publish an empty (zero-length) message")
	qos := fs.Int("q", 0, "QoS: 0, 1 or 2")
	retain := fs.Bool("r", false, "ask the broker to retain the message")
	repeat := fs.Int("repeat", 1, "publish the message `count` times")
	var repeatDelay time.Duration
	fs.Var(secondsFlag{&repeatDelay}, "repeat-delay", "wait this many `seconds` between repeated messages (as mosquitto: 0.5; or a duration: 500ms)")
	maxInflight := fs.Int("M", 0, "the most QoS 1 and 2 messages in flight, unacknowledged (default 20, as mosquitto_pub)")
	limit := fs.Int("W", 0, "give up after this many `seconds` (0: no limit)")
	fs.Usage = usageWithExitCodes(fs, stderr, pubUsage)
	if code, ok := parseNoArgs(fs, args, stderr); !ok {
		return code
	}
	if cf.quiet {
		stderr = io.Discard
	}
	opts, uriTopic, err := cf.options(stderr)
	if err != nil {
		return failure(stderr, "pub", err)
	}
	if *maxInflight < 0 || *maxInflight > 65535 {
		return failure(stderr, "pub", usagef("-M %d: 1 to 65535 messages", *maxInflight))
	}
	opts.MaxInFlight = *maxInflight
	if *topic == "" {
		*topic = uriTopic
	}
	if *topic == "" {
		fmt.Fprintln(stderr, "linnet pub: no topic: give -t TOPIC (or a topic in the -L URI)")
		return exitUsage
	}
	if err := packet.ValidateTopicName(*topic); err != nil {
		return failure(stderr, "pub", usagef("-t %q: %v", *topic, err))
	}
	q, err := parseQoS("-q", *qos)
	if err != nil {
		return failure(stderr, "pub", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	set["s"], set["l"], set["n"] = *whole, *lines, *null
	sources := 0
	for _, name := range []string{"m", "f", "s", "l", "n"} {
		if set[name] {
			sources++
		}
	}
	if sources != 1 {
		fmt.Fprintln(stderr, "linnet pub: give exactly one of -m, -f, -s, -l or -n")
		return exitUsage
	}
	if *repeat < 1 {
		fmt.Fprintln(stderr, "linnet pub: --repeat must be at least 1")
		return exitUsage
	}
	if *limit < 0 {
		fmt.Fprintln(stderr, "linnet pub: -W must not be negative")
		return exitUsage
	}

	// The input is read, with its size checked, before connecting: a file
	// too large for one message fails at once, without being read whole.
	var payload []byte
	max := maxPayload(*topic, q)
	switch {
	case set["m"]:
		payload = []byte(*message)
		if len(payload) > max {
			return failure(stderr, "pub", &tooLargeError{what: "-m", size: int64(len(payload)), max: max})
		}
	case set["f"]:
		if payload, err = readFile(*file, max); err != nil {
			return failure(stderr, "pub", err)
		}
	case set["s"]:
		if payload, err = readPayload(stdin, "standard input", max); err != nil {
			return failure(stderr, "pub", err)
		}
	case set["n"]:
		payload = []byte{}
	}

	ctx, cancel := signalContext()
	defer cancel()
	if *limit > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, time.Duration(*limit)*time.Second,
			fmt.Errorf("%w: -W %d", errTimeLimit, *limit))
		defer stop()
	}
	c, err := client.New(opts)
	if err != nil {
		return failure(stderr, "pub", err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		return failure(stderr, "pub", withCause(ctx, err))
	}
	// Messages go out without waiting for each one's acknowledgement, as
	// mosquitto_pub sends them: the client keeps at most -M of QoS 1 and 2
	// in flight, and this keeps at most that many more waiting for it.
	window := opts.MaxInFlight
	if window == 0 {
		window = client.DefaultMaxInFlight
	}
	var pending []*client.Token
	wait := func(t *client.Token) error { return withCause(ctx, t.Wait(ctx)) }
	publish := func(p []byte) error {
		pending = append(pending, c.PublishAsync(*topic, q, *retain, p))
		if len(pending) > window {
			if err := wait(pending[0]); err != nil {
				return err
			}
			pending = pending[1:]
		}
		return nil
	}
	if set["l"] {
		if err := eachLine(stdin, max, publish); err != nil {
			return failure(stderr, "pub", err)
		}
	} else {
		for i := 0; i < *repeat; i++ {
			if i > 0 && repeatDelay > 0 {
				select {
				case <-time.After(repeatDelay):
				case <-ctx.Done():
					return failure(stderr, "pub", context.Cause(ctx))
				}
			}
			if err := publish(payload); err != nil {
				return failure(stderr, "pub", err)
			}
		}
	}
	for _, t := range pending {
		if err := wait(t); err != nil {
			return failure(stderr, "pub", err)
		}
	}
	if err := c.Disconnect(ctx); err != nil {
		return failure(stderr, "pub", withCause(ctx, err))
	}
	return exitOK
}

// withCause replaces a context error with the context's cause (the -W
// limit, or the signal that interrupted).
func withCause(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); cause != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		if cause != context.DeadlineExceeded && cause != context.Canceled {
			return cause
		}
	}
	return err
}
