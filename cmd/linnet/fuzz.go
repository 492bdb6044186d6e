package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/linnet-mqtt/linnet/internal/mqttfuzz"
	"github.com/linnet-mqtt/linnet/transport"
)

func init() {
	commands["fuzz"] = command{"fuzz a broker with mutated packet sequences; save and replay findings", runFuzz}
}

const fuzzUsage = `Usage: linnet fuzz [flags] BROKER-URI
       linnet fuzz --replay FILE [flags] BROKER-URI

Sends mutated sequences of MQTT packets (CONNECT, SUBSCRIBE, PUBLISH at each
QoS, acks...) to the broker at BROKER-URI, one connection per case, and after
each case checks with a fresh client that the broker still answers. A case
after which it does not is saved in -out as hex text with comments, which
'linnet dump -x FILE' decodes and '--replay FILE' sends again. The run stops
at the first finding, after -n cases or after -duration.

Only BROKER-URI is contacted. A broker not on this machine needs
--allow-remote: fuzzing can crash it.

Examples:
  linnet fuzz -n 5000 -seed 42 tcp://127.0.0.1:1883
  linnet fuzz -duration 10m -out findings tcp://127.0.0.1:1883
  linnet fuzz --replay findings/finding-42-17.hex tcp://127.0.0.1:1883

Exit codes:
  0  no finding (replay: the broker survived the case)
  1  the broker was not alive before the first case, or a file could not be read or written
  2  bad flags or arguments
  3  a finding (replay: the broker failed again)

Flags:
`

func runFuzz(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linnet fuzz", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		n        = fs.Int("n", mqttfuzz.DefaultN, "at most this many cases")
		duration = fs.Duration("duration", time.Minute, "stop after this long (0: only -n)")
		seed     = fs.Uint64("seed", 0, "seed of the run (0: random, printed)")
		out      = fs.String("out", "fuzz-findings", "`directory` for findings")
		timeout  = fs.Duration("timeout", mqttfuzz.DefaultTimeout, "how long the liveness probe may take")
		linger   = fs.Duration("linger", mqttfuzz.DefaultLinger, "how long to read the broker's answers to each case")
		replay   = fs.String("replay", "", "send the case in this `file` once and probe the broker")
		prefix   = fs.String("prefix", "lntfuzz", "start of every client id and topic")
		remote   = fs.Bool("allow-remote", false, "allow a broker that is not on this machine")
		verbose  = fs.Bool("v", false, "list every case sent, after the run")
		user     = fs.String("u", "", "user `name` for the liveness probe")
		pass     = fs.String("P", "", "`password` for the liveness probe (needs -u)")
		tlsFlags connFlags
	)
	tlsFlags.registerTLS(fs)
	fs.Usage = func() { fmt.Fprint(stderr, fuzzUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "linnet fuzz: give one BROKER-URI")
		fs.Usage()
		return exitUsage
	}
	uri := fs.Arg(0)
	if err := transport.Validate(uri); err != nil {
		fmt.Fprintf(stderr, "linnet fuzz: %v\n", err)
		return exitUsage
	}
	if !*remote && !mqttfuzz.Loopback(uri) {
		fmt.Fprintf(stderr, "linnet fuzz: %s is not on this machine; fuzzing may crash it: add --allow-remote if it is yours to test\n", uri)
		return exitUsage
	}
	if *n < 1 || *duration < 0 || *timeout <= 0 || *linger <= 0 {
		fmt.Fprintln(stderr, "linnet fuzz: -n, -timeout and -linger must be positive, -duration not negative")
		return exitUsage
	}
	if *pass != "" && *user == "" {
		fmt.Fprintln(stderr, "linnet fuzz: a password (-P) needs a user name (-u)")
		return exitUsage
	}
	cfg := mqttfuzz.Config{URI: uri, Username: *user, Seed: *seed, N: *n, Duration: *duration, Timeout: *timeout,
		Linger: *linger, OutDir: *out, Prefix: *prefix}
	if *pass != "" {
		cfg.Password = []byte(*pass)
	}
	var err error
	if cfg.Transport, err = tlsFlags.appendTLS(cfg.Transport, uri); err != nil {
		fmt.Fprintf(stderr, "linnet fuzz: %v\n", err)
		return exitUsage
	}
	ctx, stop := signalContext()
	defer stop()

	if *replay != "" {
		text, err := os.ReadFile(*replay)
		if err != nil {
			fmt.Fprintf(stderr, "linnet fuzz: %v\n", err)
			return exitFailure
		}
		c, err := mqttfuzz.ParseCase(string(text))
		if err != nil {
			fmt.Fprintf(stderr, "linnet fuzz: %s: %v\n", *replay, err)
			return exitUsage
		}
		fmt.Fprintf(stdout, "replaying %s (%d packets) against %s\n", *replay, len(c.Chunks), uri)
		f, err := mqttfuzz.Replay(ctx, cfg, c)
		if err != nil {
			fmt.Fprintf(stderr, "linnet fuzz: before the replay: %s\n", oneLine(describeErr(err)))
			return exitFailure
		}
		if f != nil {
			fmt.Fprintf(stdout, "REPRODUCED: %v\n", f.Err)
			return exitInvalid
		}
		fmt.Fprintln(stdout, "not reproduced: the broker answered the liveness probe after the case")
		return exitOK
	}

	rep, err := mqttfuzz.Run(ctx, cfg)
	fmt.Fprintf(stdout, "linnet fuzz %s: seed %d, %d cases in %v\n", uri, rep.Seed, rep.Cases, rep.Elapsed.Round(time.Millisecond))
	if err != nil {
		if errors.Is(err, mqttfuzz.ErrNotLive) {
			fmt.Fprintf(stderr, "linnet fuzz: the broker is not alive before the first case: %s\n", oneLine(describeErr(err)))
		} else {
			fmt.Fprintf(stderr, "linnet fuzz: %v\n", err)
		}
		return exitFailure
	}
	if *verbose {
		// Generate is a pure function of the seed and the index.
		for i := range rep.Cases {
			c := mqttfuzz.Generate(rep.Seed, i, cfg.Prefix)
			descs := make([]string, len(c.Chunks))
			for j, ch := range c.Chunks {
				descs[j] = ch.Desc
			}
			fmt.Fprintf(stdout, "case %d: %s\n", i, strings.Join(descs, " | "))
		}
	}
	if len(rep.Findings) == 0 {
		fmt.Fprintln(stdout, "no finding: the broker answered the liveness probe after every case")
		return exitOK
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(stdout, "FINDING after case %d: %v\n  saved: %s\n  decode: linnet dump -x %s\n  replay: linnet fuzz --replay %s %s\n",
			f.Case.Index, f.Err, f.File, f.File, f.File, uri)
	}
	return exitInvalid
}
