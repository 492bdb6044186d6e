package session

import (
	"sync"
	"time"
)

// PingSender schedules keep-alive checks, as Paho's MqttPingSender: the
// session asks for a check after a delay, and the sender calls the function
// given to Init when it is due. The function must hand the check over to
// the goroutine that owns the session (which then calls Session.Tick); it
// must not call the session itself from the sender's goroutine.
//
// A Session calls Start on OnConnack, Stop on ConnectionLost, and Schedule
// from OnConnack and Tick (always) and from Received, ServerAlive and
// NextToSend (whenever the next deadline moved earlier than the check last
// scheduled), all on the goroutine that owns it, so that while connected a
// check is always scheduled at or before Session.NextDeadline. Only the owner
// calls Init, once, before handing the sender to the session. The check
// function may be called on another goroutine (a timer's, a host's that
// polls a ManualPingSender).
type PingSender interface {
	// Init sets the function called when a scheduled check is due.
	Init(check func())
	// Start enables scheduling.
	Start()
	// Stop cancels the pending check; no call of check starts after Stop
	// returns, until the next Start.
	Stop()
	// Schedule replaces the pending check with one after delay (at once
	// when delay <= 0).
	Schedule(delay time.Duration)
}

// TimerPingSender is a PingSender on one time.Timer (time.AfterFunc): it
// starts no goroutine of its own; the runtime runs check on a goroutine of
// its own when the timer fires. It is safe for concurrent use.
type TimerPingSender struct {
	mu      sync.Mutex
	check   func()
	timer   *time.Timer
	started bool
	gen     uint64 // increases on Stop and Schedule: a firing of an older timer is dropped
}

// NewTimerPingSender returns a TimerPingSender; call Init before use.
func NewTimerPingSender() *TimerPingSender { return &TimerPingSender{} }

// Init sets the function to call when a check is due.
func (t *TimerPingSender) Init(check func()) {
	t.mu.Lock()
	t.check = check
	t.mu.Unlock()
}

// Start enables scheduling.
func (t *TimerPingSender) Start() {
	t.mu.Lock()
	t.started = true
	t.mu.Unlock()
}

// Stop cancels the pending check.
func (t *TimerPingSender) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.started = false
	t.gen++
	if t.timer != nil {
		t.timer.Stop()
	}
}

// Schedule arms the timer for delay, replacing the pending check. It does
// nothing before Start or after Stop.
func (t *TimerPingSender) Schedule(delay time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started || t.check == nil {
		return
	}
	t.gen++
	gen := t.gen
	if t.timer != nil {
		t.timer.Stop()
	}
	t.timer = time.AfterFunc(max(delay, 0), func() { t.fire(gen) })
}

func (t *TimerPingSender) fire(gen uint64) {
	t.mu.Lock()
	if gen != t.gen || !t.started {
		t.mu.Unlock()
		return
	}
	check := t.check
	t.mu.Unlock()
	check()
}

// ManualPingSender is a PingSender for a host that runs its own main loop:
// it only records when the next check is due, and the host calls Poll when
// it wakes (at Deadline, or whenever).
//
// Which goroutine does what: the session calls Start, Stop and Schedule on
// the goroutine that owns it (inside OnConnack, Tick and ConnectionLost);
// the host may call Deadline and Poll from any goroutine, its own main loop
// typically, also while the session's owner runs. Poll calls the check
// function on the goroutine that polls, outside the sender's lock, so the
// function must do what PingSender requires: hand the check over to the
// owner of the session (the client's is safe to call from anywhere), never
// call Session.Tick itself unless the poller is that owner. It is safe for
// concurrent use.
type ManualPingSender struct {
	now func() time.Time

	mu       sync.Mutex
	check    func()
	started  bool
	deadline time.Time
}

// NewManualPingSender returns a ManualPingSender that reads the time with
// now (time.Now when nil) to turn a delay into a deadline.
func NewManualPingSender(now func() time.Time) *ManualPingSender {
	if now == nil {
		now = time.Now
	}
	return &ManualPingSender{now: now}
}

// Init sets the function Poll calls when a check is due.
func (m *ManualPingSender) Init(check func()) {
	m.mu.Lock()
	m.check = check
	m.mu.Unlock()
}

// Start enables scheduling.
func (m *ManualPingSender) Start() {
	m.mu.Lock()
	m.started = true
	m.mu.Unlock()
}

// Stop cancels the pending check.
func (m *ManualPingSender) Stop() {
	m.mu.Lock()
	m.started, m.deadline = false, time.Time{}
	m.mu.Unlock()
}

// Schedule sets the next check to delay from now.
func (m *ManualPingSender) Schedule(delay time.Duration) {
	m.mu.Lock()
	if m.started {
		m.deadline = m.now().Add(max(delay, 0))
	}
	m.mu.Unlock()
}

// Deadline returns when the next check is due; the zero time when none is
// scheduled.
func (m *ManualPingSender) Deadline() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deadline
}

// Poll calls the check function if a check is due at now, and reports
// whether it did. The check is consumed: the session schedules the next one
// from Tick.
func (m *ManualPingSender) Poll(now time.Time) bool {
	m.mu.Lock()
	if !m.started || m.deadline.IsZero() || now.Before(m.deadline) || m.check == nil {
		m.mu.Unlock()
		return false
	}
	m.deadline = time.Time{}
	check := m.check
	m.mu.Unlock()
	check()
	return true
}
