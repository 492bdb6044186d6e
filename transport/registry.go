package transport

import (
	"context"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
)

// A Module opens connections for one or more URI schemes, like Paho's
// NetworkModuleFactory. Register one to add a scheme or to replace a
// built-in one.
type Module interface {
	// Validate checks the scheme-specific parts of u and fills in its
	// defaults (port, path). It must not touch the network. An error that
	// is not a *URIError is wrapped in one.
	Validate(u *URI) error
	// Dial opens a stream to u, validated by Validate. ctx bounds the whole
	// open and has a deadline. The module should open its underlying
	// connection with cfg.DialContext so that the dialer hook applies.
	Dial(ctx context.Context, u *URI, cfg *Config) (net.Conn, error)
}

// Registry maps URI schemes to modules. It is safe for concurrent use.
// The zero Registry is empty; NewRegistry returns one with the built-in
// schemes of this build.
type Registry struct {
	mu      sync.RWMutex
	modules map[string]Module
}

// Default is the registry used by Dial, Parse and Validate unless
// WithRegistry names another. Registering on it affects the whole process;
// tests should prefer their own NewRegistry and WithRegistry.
var Default = NewRegistry()

// builtinModules returns the modules of this build. The addTLS, addWS and
// addWSS functions live in files chosen by the linnet_notls and linnet_nows
// build tags; in a constrained build they add nothing.
func builtinModules() map[string]Module {
	m := map[string]Module{"tcp": tcpModule{}, "mqtt": tcpModule{}, "unix": unixModule{}}
	addTLS(m)
	addWS(m)
	addWSS(m)
	return m
}

// NewRegistry returns a registry holding the built-in modules of this
// build: tcp, mqtt, unix and, unless left out by build tags, ssl, tls,
// mqtts, tcps, ws and wss.
func NewRegistry() *Registry {
	return &Registry{modules: builtinModules()}
}

// Register makes m the module for scheme (case-insensitive), replacing any
// module registered before. A nil m removes the scheme.
func (r *Registry) Register(scheme string, m Module) {
	scheme = strings.ToLower(scheme)
	r.mu.Lock()
	defer r.mu.Unlock()
	if m == nil {
		delete(r.modules, scheme)
		return
	}
	if r.modules == nil {
		r.modules = make(map[string]Module)
	}
	r.modules[scheme] = m
}

// Lookup returns the module for scheme, or nil.
func (r *Registry) Lookup(scheme string) Module {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.modules[strings.ToLower(scheme)]
}

// Schemes returns the registered schemes, sorted.
func (r *Registry) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.modules))
}

// Register registers m for scheme on the Default registry.
func Register(scheme string, m Module) { Default.Register(scheme, m) }
