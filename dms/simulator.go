package dms

import (
	"context"
	"sync"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

// SimulatorConfig configures a Simulator.
type SimulatorConfig struct {
	// Redirect is the connection to the redirect server, where the
	// join-network messages are published. Servers is required; a
	// ClientID is advisable (the simulator's clients need to pass the
	// broker's authentication like any other).
	Redirect client.Options
	// DMS, if set, is the connection to the DMS server, where heartbeats
	// are recorded and control messages sent; nil uses the Redirect
	// connection for both (one broker).
	DMS *client.Options
	// Topics are the topic templates; zero fields mean the defaults.
	Topics Topics
	// Clock stamps heartbeats and checks passwords; nil means SystemClock.
	Clock Clock
	// Check verifies a device password; nil means CheckPassword.
	Check func(deviceID, password string, now time.Time) bool
	// OnHeartbeat is called for every heartbeat, on the DMS client's
	// dispatcher goroutine.
	OnHeartbeat func(Heartbeat)
	Logger      *Logger
}

// Heartbeat is one heartbeat as the simulator received it.
type Heartbeat struct {
	// DeviceID is the "deviceId" string of the JSON body, "" when the body
	// has none (MQTT 3.1.1 does not tell a subscriber who published).
	DeviceID string
	Payload  []byte
	At       time.Time // the simulator's clock at arrival
}

// Simulator plays the DMS back end on any broker, for tests and demos: it
// publishes each registered device's join-network message (retained, so a
// device that connects later gets it), records heartbeats, sends control
// messages and checks device passwords for a broker's authentication hook
// (Authenticate). It does not embed a broker.
type Simulator struct {
	cfg      SimulatorConfig
	log      *Logger
	redirect *client.Client
	dms      *client.Client // == redirect when cfg.DMS is nil

	mu        sync.Mutex
	started   bool
	stopped   bool
	devices   map[string]string // device id → DMS URI
	beats     []Heartbeat
	changed   chan struct{} // closed and replaced at every heartbeat
	stoppedCh chan struct{}
}

// NewSimulator checks cfg and creates the simulator's clients (no network
// I/O before Start).
func NewSimulator(cfg SimulatorConfig) (*Simulator, error) {
	if len(cfg.Redirect.Servers) == 0 {
		return nil, &ConfigError{Field: "Redirect.Servers", Reason: "required"}
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	if cfg.Check == nil {
		cfg.Check = CheckPassword
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	cfg.Topics = cfg.Topics.withDefaults()
	if err := packet.ValidateTopicName(cfg.Topics.Heartbeat); err != nil {
		return nil, &ConfigError{Field: "Topics.Heartbeat", Reason: "not a valid topic name", Err: err}
	}
	s := &Simulator{cfg: cfg, log: cfg.Logger, devices: make(map[string]string),
		changed: make(chan struct{}), stoppedCh: make(chan struct{})}
	ro := cfg.Redirect
	if ro.Logger == nil {
		ro.Logger = cfg.Logger
	}
	var err error
	if s.redirect, err = client.New(ro); err != nil {
		return nil, err
	}
	s.dms = s.redirect
	if cfg.DMS != nil {
		do := *cfg.DMS
		if do.Logger == nil {
			do.Logger = cfg.Logger
		}
		if s.dms, err = client.New(do); err != nil {
			_ = s.redirect.Close()
			return nil, err
		}
	}
	return s, nil
}

// Start connects the simulator's clients and subscribes to the heartbeat
// topic at QoS 1.
func (s *Simulator) Start(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.stopped:
		s.mu.Unlock()
		return ErrStopped
	case s.started:
		s.mu.Unlock()
		return ErrAlreadyStarted
	}
	s.started = true
	s.mu.Unlock()
	if err := s.redirect.Connect(ctx); err != nil {
		return err
	}
	if s.dms != s.redirect {
		if err := s.dms.Connect(ctx); err != nil {
			return err
		}
	}
	topic := s.cfg.Topics.Heartbeat
	codes, err := s.dms.Subscribe(ctx, s.onHeartbeat, client.Subscription{Filter: topic, QoS: packet.QoS1})
	if err != nil {
		return err
	}
	return checkSuback(codes, []string{topic})
}

func (s *Simulator) onHeartbeat(m *client.Message) {
	hb := Heartbeat{DeviceID: heartbeatDeviceID(m.Payload), Payload: m.Payload, At: s.cfg.Clock.Now()}
	s.mu.Lock()
	s.beats = append(s.beats, hb)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.log.Debug("dms simulator: heartbeat", "device", hb.DeviceID)
	if f := s.cfg.OnHeartbeat; f != nil {
		f(hb)
	}
}

func (s *Simulator) ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return ErrStopped
	case !s.started:
		return ErrNotStarted
	}
	return nil
}

// Register records deviceID and publishes its join-network message,
// {"url":"<dmsURI>"}, retained at QoS 1 on the redirect server.
func (s *Simulator) Register(ctx context.Context, deviceID, dmsURI string) error {
	body := append(appendJSONString([]byte(`{"url":`), dmsURI), '}')
	if err := s.PublishJoinNetwork(ctx, deviceID, body); err != nil {
		return err
	}
	s.mu.Lock()
	s.devices[deviceID] = dmsURI
	s.mu.Unlock()
	return nil
}

// PublishJoinNetwork publishes payload as deviceID's join-network message,
// retained at QoS 1, as it is (tests use it for malformed payloads). It does
// not register the device.
func (s *Simulator) PublishJoinNetwork(ctx context.Context, deviceID string, payload []byte) error {
	if err := s.ready(); err != nil {
		return err
	}
	topic := s.cfg.Topics.For(deviceID).JoinNetwork
	return s.redirect.Publish(ctx, topic, packet.QoS1, true, payload)
}

// Unregister forgets deviceID and clears its retained join-network message.
func (s *Simulator) Unregister(ctx context.Context, deviceID string) error {
	if err := s.ready(); err != nil {
		return err
	}
	s.mu.Lock()
	_, ok := s.devices[deviceID]
	delete(s.devices, deviceID)
	s.mu.Unlock()
	if !ok {
		return ErrUnknownDevice
	}
	topic := s.cfg.Topics.For(deviceID).JoinNetwork
	return s.redirect.Publish(ctx, topic, packet.QoS1, true, nil)
}

// SendControl publishes payload on deviceID's ctrlDevice topic at QoS 1,
// on the redirect and the DMS server (once when they are the same), so that
// the device gets it on whichever it is connected to.
func (s *Simulator) SendControl(ctx context.Context, deviceID string, payload []byte) error {
	return s.sendBoth(ctx, s.cfg.Topics.For(deviceID).ControlDevice, payload)
}

// SendVerifyPassword publishes payload on deviceID's verify_pwd topic at QoS
// 1, on both servers like SendControl.
func (s *Simulator) SendVerifyPassword(ctx context.Context, deviceID string, payload []byte) error {
	return s.sendBoth(ctx, s.cfg.Topics.For(deviceID).VerifyPassword, payload)
}

func (s *Simulator) sendBoth(ctx context.Context, topic string, payload []byte) error {
	if err := s.ready(); err != nil {
		return err
	}
	if err := s.redirect.Publish(ctx, topic, packet.QoS1, false, payload); err != nil {
		return err
	}
	if s.dms == s.redirect {
		return nil
	}
	return s.dms.Publish(ctx, topic, packet.QoS1, false, payload)
}

// Authenticate is what a broker's authentication hook asks: is this CONNECT
// a registered device with its identity (client id = user name = device
// id) and a valid password at the simulator's clock? The simulator's own
// clients are not devices; the hook admits them by its own rule.
func (s *Simulator) Authenticate(clientID, username string, password []byte) bool {
	if clientID == "" || clientID != username {
		return false
	}
	s.mu.Lock()
	_, ok := s.devices[clientID]
	s.mu.Unlock()
	return ok && s.cfg.Check(clientID, string(password), s.cfg.Clock.Now())
}

// Devices returns the registered device ids and their DMS URIs.
func (s *Simulator) Devices() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.devices))
	for k, v := range s.devices {
		out[k] = v
	}
	return out
}

// Heartbeats returns the heartbeats received so far, in order.
func (s *Simulator) Heartbeats() []Heartbeat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Heartbeat(nil), s.beats...)
}

// WaitHeartbeats waits until at least n heartbeats were received and returns
// them all, or ctx's error (with what arrived), or ErrStopped.
func (s *Simulator) WaitHeartbeats(ctx context.Context, n int) ([]Heartbeat, error) {
	for {
		s.mu.Lock()
		beats, changed := append([]Heartbeat(nil), s.beats...), s.changed
		s.mu.Unlock()
		if len(beats) >= n {
			return beats, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return beats, ctx.Err()
		case <-s.stoppedCh:
			return beats, ErrStopped
		}
	}
}

// Stop disconnects the simulator's clients within ctx. Retained
// join-network messages stay on the broker (Unregister clears them).
func (s *Simulator) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	close(s.stoppedCh)
	started := s.started
	s.mu.Unlock()
	var err error
	for _, c := range []*client.Client{s.redirect, s.dms} {
		if started && c.IsConnected() {
			if e := c.Disconnect(ctx); e != nil && err == nil {
				err = e
			}
		}
		_ = c.Close()
		if s.dms == s.redirect {
			break
		}
	}
	return err
}

// heartbeatDeviceID returns the "deviceId" string of a heartbeat body, or
// "" when the body is not a JSON object with one: any payload is a
// heartbeat, the id is optional.
func heartbeatDeviceID(body []byte) string {
	members, err := jsonObject(body)
	if err != nil {
		return ""
	}
	v, _ := lookup(members, "deviceId")
	id, _ := jsonStringValue(v)
	return id
}
