package dms

import (
	"strconv"
	"time"
)

// PasswordWindow is how long a password of the default scheme stays the
// same: the scheme hashes the Unix time divided by 100 seconds.
const PasswordWindow = 100 * time.Second

// PasswordFunc computes the MQTT password of a device at a given time. It is
// called before every connect attempt, so a password that depends on the time
// is always fresh.
type PasswordFunc func(deviceID string, now time.Time) string

// Password is the default password scheme of the DMS back end: the lowercase
// hex MD5 of "ovopark_<deviceID>_<unix seconds / 100>". It changes every
// PasswordWindow.
//
// MD5 of a predictable string is an identification, not a secret: anyone
// who knows a device id can compute it. Use TLS, and treat the password as
// what the back end requires, not as protection.
func Password(deviceID string, now time.Time) string {
	return passwordAt(deviceID, now.Unix()/100)
}

func passwordAt(deviceID string, window int64) string {
	b := make([]byte, 0, len("ovopark__")+len(deviceID)+20)
	b = append(b, "ovopark_"...)
	b = append(b, deviceID...)
	b = append(b, '_')
	b = strconv.AppendInt(b, window, 10)
	sum := md5Sum(b)
	// Lowercase hex by hand: encoding/hex imports fmt, which a constrained
	// build cannot afford.
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(sum))
	for i, c := range sum {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&0xf]
	}
	return string(out)
}

// CheckPassword reports whether password is the default-scheme password of
// deviceID at now, or in the window just before now: a device computes its
// password just before it connects, and the broker checks it a moment later,
// possibly after a window boundary. The comparison takes constant time.
func CheckPassword(deviceID, password string, now time.Time) bool {
	w := now.Unix() / 100
	cur := equalConstantTime(passwordAt(deviceID, w), password)
	prev := equalConstantTime(passwordAt(deviceID, w-1), password)
	return cur || prev
}
