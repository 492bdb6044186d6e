// Package errwrap is fmt.Errorf("what: %w", err) without fmt, for Linnet's
// library packages: a constrained build cannot afford fmt and the reflect
// code it brings (about 0.2 MB; see client/testdata/minimal).
package errwrap

// Wrap returns an error whose text is what + ": " + err.Error() and which
// unwraps to err, as fmt.Errorf(what+": %w", err) would. err must not be
// nil.
func Wrap(what string, err error) error {
	return &wrapped{msg: what + ": " + err.Error(), err: err}
}

// Detail returns an error whose text is err.Error() + ": " + detail and
// which unwraps to err, as fmt.Errorf("%w: "+detail, err) would.
func Detail(err error, detail string) error {
	return &wrapped{msg: err.Error() + ": " + detail, err: err}
}

// wrapped keeps the finished text, as fmt's error did, so that Error does
// not rebuild it on every call.
type wrapped struct {
	msg string
	err error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.err }
