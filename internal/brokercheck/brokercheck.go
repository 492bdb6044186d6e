package brokercheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
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
	DefaultKeepAlive = 1 // seconds, for the keep-alive check
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
	// Prefix starts every client id and topic of the run (letters and
	// digits only), so that runs in parallel do not collide. Empty means
	// "lnt" and eight random hex digits.
	Prefix string
	// Timeout bounds every wait for the broker. Zero means DefaultTimeout.
	// Checks that expect nothing (a close, an absent message) wait this
	// long only when the broker misbehaves.
	Timeout time.Duration
	// KeepAlive is the keep-alive, in seconds, of the keep-alive check;
	// zero means DefaultKeepAlive.
	KeepAlive uint16
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
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
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

// The outcomes of a check.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is what one check found.
type Result struct {
	Name  string   `json:"name"`
	Rules []string `json:"rules"`
	// Status is pass, fail or skip.
	Status Status `json:"status"`
	// Rule is the statement a failure breaks (one of Rules, or another
	// the check tripped over); empty for a pass or skip, or a failure
	// that names no rule (the broker could not be reached).
	Rule string `json:"rule,omitempty"`
	// Reason says why the check failed or was skipped.
	Reason string `json:"reason,omitempty"`
	// Transcript is every packet sent and received, with its hex bytes,
	// kept for failures.
	Transcript []string      `json:"transcript,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
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
	run     func(r *run) error
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
// own client ids and topics. It returns an error only for an unusable
// cfg; a broker that cannot be reached fails every check.
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
				results[i] = Result{Name: c.Name, Rules: c.Rules, Status: Skip, Reason: "interrupted: " + ctx.Err().Error()}
				return
			}
			defer func() { <-sem }()
			results[i] = runOne(ctx, &cfg, c, index[c.Name])
			cfg.Logger.Debug("brokercheck", "check", c.Name, "status", results[i].Status, "reason", results[i].Reason)
		}()
	}
	wg.Wait()
	return results, nil
}

func runOne(ctx context.Context, cfg *Config, c Check, index int) (res Result) {
	tr := &transcript{start: time.Now()}
	r := &run{ctx: ctx, cfg: cfg, name: c.Name, index: index, tr: tr}
	res = Result{Name: c.Name, Rules: c.Rules}
	defer func() {
		if v := recover(); v != nil {
			res.Status, res.Reason = Fail, fmt.Sprintf("internal error in the check: %v\n%s", v, debug.Stack())
		}
		r.closeAll()
		res.Duration = time.Since(tr.start)
		if res.Status == Fail {
			res.Transcript = tr.snapshot()
		}
	}()
	err := c.run(r)
	var (
		ve *ViolationError
		se *skipError
	)
	switch {
	case err == nil:
		res.Status = Pass
	case errors.As(err, &se):
		res.Status, res.Reason = Skip, se.reason
	case errors.As(err, &ve):
		res.Status, res.Rule, res.Reason = Fail, ve.Rule, ve.Reason
	case ctx.Err() != nil:
		res.Status, res.Reason = Skip, "interrupted: "+ctx.Err().Error()
	default:
		res.Status, res.Reason = Fail, err.Error()
	}
	return res
}
