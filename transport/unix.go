package transport

import (
	"context"
	"net"
)

// unixModule opens unix domain stream sockets: unix:///run/mqtt.sock.
type unixModule struct{}

func (unixModule) Validate(u *URI) error {
	switch {
	case u.Host != "" || u.Port != 0:
		return uriError(u.raw, "a unix URI names a path, not a host (want unix:///path/to.sock)", ErrUnexpectedPart)
	case u.Path == "" || u.Path == "/":
		return uriError(u.raw, "missing socket path", ErrMissingHost)
	case u.RawQuery != "":
		return uriError(u.raw, "a query is not allowed for unix", ErrUnexpectedPart)
	case u.Username != "" || u.HasPassword:
		return uriError(u.raw, "user information is not allowed for unix", ErrUnexpectedPart)
	}
	return nil
}

func (unixModule) Dial(ctx context.Context, u *URI, cfg *Config) (net.Conn, error) {
	return cfg.DialContext(ctx, "unix", u.Path)
}
