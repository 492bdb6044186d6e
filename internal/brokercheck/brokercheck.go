package brokercheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/linnet-mqtt/linnet/transport"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultParallel  = 4
	DefaultKeepAlive = 1 // seconds, for the keep-alive checks
	// DefaultKeepAliveSlack is how long past 1.5 x keep-alive the
	// keep-alive checks wait for the broker to cut a silent client.
	// mosquitto 2.0 looks at keep-alives only every 6 s, on whole
	// seconds, so it cuts a client with a keep-alive of 1 s between 2 s
	// and 8 s after its CONNECT; the Eclipse Paho interoperability suite
	// allows 15 s for a keep-alive of 5 s, 7.5 s past 1.5 x keep-alive.
	DefaultKeepAliveSlack = 7500 * time.Millisecond
	// MaxPrefix is the longest Config.Prefix: with the check's number and
	// role it leaves every client id within the 23 characters every
	// server accepts [MQTT-3.1.3-5].
	MaxPrefix = 16
)

// Config says which broker to check and how.
type Config struct {
	// URI is the broker, on any scheme transport.Dial knows.
	URI string
	// Transport holds options for transport.Dial (TLS configuration...).
	Transport []transport.Option
	// Username and Password go in every CONNECT when Username is set.
	Username string
	Password []byte
	// Dial, when set, opens the network connections instead of
	// transport.Dial(ctx, URI, Transport...): for a broker in the same
	// process, or a scripted one in a test.
	Dial func(ctx context.Context) (net.Conn, error)
	// Prefix starts every client id and topic of the run (letters and
	// digits only, at most MaxPrefix of them), so that runs in parallel
	// do not collide. Empty means "lnt" and eight random hex digits.
	Prefix string
	// Timeout is the time limit of each check: every connection of a
	// check is closed when it runs out, and the check ends with status
	// timeout. Checks that wait for a keep-alive get 1.5 x KeepAlive +
	// KeepAliveSlack more (see Check.Limit). Zero means DefaultTimeout.
	Timeout time.Duration
	// KeepAlive is the keep-alive, in seconds, of the keep-alive checks;
	// zero means DefaultKeepAlive.
	KeepAlive uint16
	// KeepAliveSlack is how long past 1.5 x KeepAlive the keep-alive
	// checks wait for the broker to cut a silent client; zero means
	// DefaultKeepAliveSlack.
	KeepAliveSlack time.Duration
	// RefusedFilter is a topic filter the broker was configured to refuse;
	// empty skips the subscribe-refused check.
	RefusedFilter string
	// Parallel is how many checks run at once. Zero means DefaultParallel.
	Parallel int
	// Logger receives a debug record per check; nil discards them.
	Logger *slog.Logger
}

// Validate reports whether Run would accept c.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

func (c Config) withDefaults() (Config, error) {
	if c.URI == "" {
		return c, errors.New("brokercheck: no broker URI")
	}
	if err := transport.Validate(c.URI); err != nil {
		return c, err
	}
	if c.Prefix == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.Prefix = "lnt" + hex.EncodeToString(b[:])
	}
	for _, r := range c.Prefix {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return c, fmt.Errorf("brokercheck: prefix %q: only letters and digits", c.Prefix)
		}
	}
	if len(c.Prefix) > MaxPrefix {
		return c, fmt.Errorf("brokercheck: prefix %q: at most %d characters", c.Prefix, MaxPrefix)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.KeepAliveSlack <= 0 {
		c.KeepAliveSlack = DefaultKeepAliveSlack
	}
	if c.Parallel <= 0 {
		c.Parallel = DefaultParallel
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Status is the outcome of a check.
type Status string

// The outcomes of a check. A failure is always shown by packets: the broker
// sent something, or closed the connection, where the rule says otherwise.
// A check that runs out of its time limit before the broker has shown
// either way ends with Timeout, naming the rule it was waiting on, so a
// slow broker is reported as slow and never as breaking a rule.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Skip    Status = "skip"
	Timeout Status = "timeout"
)

// Result is what one check found.
type Result struct {
	Name  string   `json:"name"`
	Rules []string `json:"rules"`
	// Scenario is the Eclipse Paho interoperability scenario the check
	// follows, if any.
	Scenario string `json:"scenario,omitempty"`
	// Status is pass, fail, skip or timeout.
	Status Status `json:"status"`
	// Rule is the statement a failure breaks, or the one a timeout was
	// waiting on (one of Rules, or another the check tripped over); empty
	// for a pass or skip, or a failure that names no rule (the broker
	// could not be reached).
	Rule string `json:"rule,omitempty"`
	// Reason says why the check failed, timed out or was skipped.
	Reason string `json:"reason,omitempty"`
	// Transcript is every packet sent and received, with its hex bytes,
	// kept for failures and timeouts.
	Transcript []string      `json:"transcript,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
	// Limit is the time limit the check ran under.
	Limit time.Duration `json:"limit_ns"`
}

// Check is one broker check.
type Check struct {
	// Name is short and stable: it is used by -run and recorded in
	// CONFORMANCE.md.
	Name string
	// Rules are the normative statements the check exercises.
	Rules []string
	// Summary says what the check does, in one line.
	Summary string
	// Scenario is the Eclipse Paho interoperability scenario (one of
	// Scenarios) the check follows, with the verdicts that suite gives;
	// empty for the checks of single statements.
	Scenario string
	// keepAlive marks the checks that wait for the broker to cut a
	// silent client: their limit grows by the keep-alive.
	keepAlive bool
	run       func(r *run) error
}

// Limit returns the time limit of the check under cfg: cfg.Timeout, and
// for a check that waits on a keep-alive 1.5 x cfg.KeepAlive and
// cfg.KeepAliveSlack more.
func (c Check) Limit(cfg Config) time.Duration {
	cfg, _ = cfg.withDefaults()
	d := cfg.Timeout
	if c.keepAlive {
		d += time.Duration(cfg.KeepAlive)*1500*time.Millisecond + cfg.KeepAliveSlack
	}
	return d
}

// Checks returns every check, in a stable order.
func Checks() []Check {
	out := make([]Check, len(allChecks))
	copy(out, allChecks)
	return out
}

// Select returns the checks whose name or one of whose rules matches the
// regular expression pattern (anchored nowhere, so "qos" picks every
// check with qos in its name, and "MQTT-3.3.1" every check of §3.3.1).
// An empty pattern selects all.
func Select(checks []Check, pattern string) ([]Check, error) {
	if pattern == "" {
		return checks, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("brokercheck: -run %q: %w", pattern, err)
	}
	var out []Check
	for _, c := range checks {
		if re.MatchString(c.Name) || re.MatchString(strings.Join(c.Rules, " ")) {
			out = append(out, c)
		}
	}
	return out, nil
}

// ViolationError is a check's failure: the broker broke a rule.
type ViolationError struct {
	Rule   string // "MQTT-3.3.1-4"
	Reason string
}

func (e *ViolationError) Error() string { return e.Reason + " [" + e.Rule + "]" }

func violation(rule, format string, args ...any) error {
	return &ViolationError{Rule: rule, Reason: fmt.Sprintf(format, args...)}
}

// DialError is a broker that could not be reached.
type DialError struct {
	URI string
	Err error
}

func (e *DialError) Error() string { return "cannot reach " + e.URI + ": " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// setupError is a broker that would not do what a check needs to get
// going (refused an ordinary CONNECT or subscription): the check fails,
// but names no rule of its own.
type setupError struct{ msg string }

func (e *setupError) Error() string { return e.msg }

// skipError ends a check with status skip.
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

func skip(format string, args ...any) error { return &skipError{fmt.Sprintf(format, args...)} }

// Run runs checks against the broker of cfg and returns their results in
// the order of checks. Checks run cfg.Parallel at a time, each with its
// own client ids and topics and each within its Limit: against a broker
// that answers nothing, a run ends within the sum of the limits. It
// returns an error only for an unusable cfg; a broker that cannot be
// reached fails every check.
func Run(ctx context.Context, cfg Config, checks []Check) ([]Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(checks))
	sem := make(chan struct{}, cfg.Parallel)
	var wg sync.WaitGroup
	index := make(map[string]int, len(allChecks))
	for i, c := range allChecks {
		index[c.Name] = i
	}
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = Result{Name: c.Name, Rules: c.Rules, Scenario: c.Scenario, Status: Skip,
					Reason: "interrupted: " + ctx.Err().Error(), Limit: c.Limit(cfg)}
				return
			}
			defer func() { <-sem }()
			n, ok := index[c.Name]
			if !ok {
				n = len(allChecks) + i // a check from outside the suite
			}
			results[i] = runOne(ctx, &cfg, c, n)
			cfg.Logger.Debug("brokercheck", "check", c.Name, "status", results[i].Status, "reason", results[i].Reason)
		}()
	}
	wg.Wait()
	return results, nil
}

func runOne(parent context.Context, cfg *Config, c Check, index int) (res Result) {
	limit := c.Limit(*cfg)
	tr := &transcript{start: time.Now()}
	deadline := tr.start.Add(limit)
	ctx, cancel := context.WithDeadline(parent, deadline)
	defer cancel()
	r := &run{ctx: ctx, cfg: cfg, name: c.Name, index: index, tr: tr, deadline: deadline}
	// Every read, write and dial of the check is bound by the deadline;
	// closing the connections when it passes ends any wait a net.Conn
	// might not bound itself.
	watchdog := time.AfterFunc(limit, r.closeAll)
	defer watchdog.Stop()
	res = Result{Name: c.Name, Rules: c.Rules, Scenario: c.Scenario, Limit: limit}
	defer func() {
		if v := recover(); v != nil {
			res.Status, res.Reason = Fail, fmt.Sprintf("internal error in the check: %v\n%s", v, debug.Stack())
		}
		r.closeAll()
		res.Duration = time.Since(tr.start)
		if res.Status == Fail || res.Status == Timeout {
			res.Transcript = tr.snapshot()
		}
	}()
	err := c.run(r)
	var (
		ve *ViolationError
		se *skipError
		te *timeoutError
	)
	switch {
	case err == nil:
		res.Status = Pass
	case errors.As(err, &se):
		res.Status, res.Reason = Skip, se.reason
	case errors.As(err, &ve):
		res.Status, res.Rule, res.Reason = Fail, ve.Rule, ve.Reason
	case parent.Err() != nil:
		res.Status, res.Reason = Skip, "interrupted: "+parent.Err().Error()
	case errors.As(err, &te) || !time.Now().Before(deadline):
		res.Status, res.Reason = Timeout, fmt.Sprintf("no decision within the limit of %v: %v", limit, err)
		if te != nil {
			res.Rule = te.rule
		}
	default:
		res.Status, res.Reason = Fail, err.Error()
	}
	return res
}
