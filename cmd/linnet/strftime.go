package main

import (
	"fmt"
	"time"
)

// appendStrftime appends the strftime(3) conversion c of t, in the C
// locale, for the @ specifiers of -F; @N is the nanoseconds, as in
// mosquitto_sub. A letter strftime does not know is written back as "%c",
// as glibc does.
func appendStrftime(b []byte, c byte, t time.Time) []byte {
	switch c {
	case 'a':
		return append(b, t.Format("Mon")...)
	case 'A':
		return append(b, t.Format("Monday")...)
	case 'b', 'h':
		return append(b, t.Format("Jan")...)
	case 'B':
		return append(b, t.Format("January")...)
	case 'c':
		return append(b, t.Format("Mon Jan _2 15:04:05 2006")...)
	case 'C':
		return fmt.Appendf(b, "%02d", t.Year()/100)
	case 'd':
		return fmt.Appendf(b, "%02d", t.Day())
	case 'D', 'x':
		return append(b, t.Format("01/02/06")...)
	case 'e':
		return fmt.Appendf(b, "%2d", t.Day())
	case 'F':
		return append(b, t.Format("2006-01-02")...)
	case 'G':
		y, _ := t.ISOWeek()
		return fmt.Appendf(b, "%d", y)
	case 'g':
		y, _ := t.ISOWeek()
		return fmt.Appendf(b, "%02d", y%100)
	case 'H':
		return fmt.Appendf(b, "%02d", t.Hour())
	case 'I':
		return fmt.Appendf(b, "%02d", hour12(t))
	case 'j':
		return fmt.Appendf(b, "%03d", t.YearDay())
	case 'k':
		return fmt.Appendf(b, "%2d", t.Hour())
	case 'l':
		return fmt.Appendf(b, "%2d", hour12(t))
	case 'm':
		return fmt.Appendf(b, "%02d", int(t.Month()))
	case 'M':
		return fmt.Appendf(b, "%02d", t.Minute())
	case 'n':
		return append(b, '\n')
	case 'N':
		return fmt.Appendf(b, "%09d", t.Nanosecond())
	case 'p':
		return append(b, t.Format("PM")...)
	case 'P':
		return append(b, t.Format("pm")...)
	case 'r':
		return append(b, t.Format("03:04:05 PM")...)
	case 'R':
		return append(b, t.Format("15:04")...)
	case 's':
		return fmt.Appendf(b, "%d", t.Unix())
	case 'S':
		return fmt.Appendf(b, "%02d", t.Second())
	case 't':
		return append(b, '\t')
	case 'T', 'X':
		return append(b, t.Format("15:04:05")...)
	case 'u':
		return fmt.Appendf(b, "%d", (int(t.Weekday())+6)%7+1)
	case 'V':
		_, w := t.ISOWeek()
		return fmt.Appendf(b, "%02d", w)
	case 'w':
		return fmt.Appendf(b, "%d", int(t.Weekday()))
	case 'y':
		return fmt.Appendf(b, "%02d", t.Year()%100)
	case 'Y':
		return fmt.Appendf(b, "%d", t.Year())
	case 'z':
		return append(b, t.Format("-0700")...)
	case 'Z':
		return append(b, t.Format("MST")...)
	case '%':
		return append(b, '%')
	}
	return append(b, '%', c)
}

func hour12(t time.Time) int {
	h := t.Hour() % 12
	if h == 0 {
		h = 12
	}
	return h
}
