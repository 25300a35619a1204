package entity

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// TimeLayout is the text form of every timestamp: RFC 3339, UTC, exactly six
// fraction digits. Texts of this layout sort in time order (years 0000-9999).
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Time is a timestamp: UTC, truncated to the microsecond. The zero Time is
// "unset" and marshals as JSON null. Build one with At; compare with Equal,
// Before, After of the embedded time.Time.
type Time struct {
	time.Time
}

// At returns t in UTC truncated to the microsecond, so that it survives a
// round trip through its text unchanged.
func At(t time.Time) Time {
	if t.IsZero() {
		return Time{}
	}
	return Time{t.UTC().Truncate(time.Microsecond)}
}

// TimePtr returns a pointer to At(t).
func TimePtr(t time.Time) *Time {
	v := At(t)
	return &v
}

// String returns t in TimeLayout ("" for the zero Time).
func (t Time) String() string {
	if t.IsZero() {
		return ""
	}
	return FormatTime(t.Time)
}

// FormatTime returns t in TimeLayout (UTC, truncated to the microsecond):
// t.UTC().Format(TimeLayout), without the layout interpreter.
func FormatTime(t time.Time) string {
	var b [len(TimeLayout)]byte
	return string(appendTimeText(b[:0], t))
}

// ParseTime reads an RFC 3339 timestamp with any offset and up to nine fraction
// digits (it is converted to UTC and truncated to the microsecond). The error
// is an *apperr.Error of kind Invalid.
func ParseTime(s string) (Time, error) {
	if t, ok := parseLayout(s); ok {
		return Time{t}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || len(s) > 40 {
		return Time{}, apperr.New(apperr.Invalid, "invalid timestamp %q: want RFC 3339, e.g. 2026-11-25T21:57:29.123456Z", truncate(s, 40))
	}
	return At(t), nil
}

// ParseTimeText reads a timestamp in TimeLayout, as stored.
func ParseTimeText(s string) (time.Time, error) {
	if t, ok := parseLayout(s); ok {
		return t, nil
	}
	return time.Parse(TimeLayout, s)
}

// parseLayout reads text of exactly TimeLayout without the layout
// interpreter (timestamps are decoded with every order and holding). It
// declines, for time.Parse to answer, anything else, and days past the 28th
// (whose validity depends on the month).
func parseLayout[T string | []byte](s T) (time.Time, bool) {
	if len(s) != len(TimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[26] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, us := num(11, 13), num(14, 16), num(17, 19), num(20, 26)
	if year < 0 || month < 1 || month > 12 || day < 1 || day > 28 || hour < 0 || hour > 23 ||
		minute < 0 || minute > 59 || sec < 0 || sec > 59 || us < 0 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, us*1000, time.UTC), true
}

// MustParseTime is ParseTime for constants and tests; it panics on bad text.
func MustParseTime(s string) Time {
	t, err := ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

// MarshalJSON writes t as a JSON string in TimeLayout, or null when zero.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON reads a JSON string with ParseTime's rules; null leaves the
// zero Time.
func (t *Time) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return apperr.New(apperr.Invalid, "invalid timestamp: want an RFC 3339 string")
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// JSONSchema describes Time for OpenAPI.
func (Time) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "format": "date-time", "examples": []any{"2026-11-25T21:57:29.123456Z"}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// DateLayout is the layout of calendar dates (date_of_birth).
const DateLayout = "2006-01-02"

// ageOn returns the age in whole years on day now of someone born on dob.
func ageOn(dob, now time.Time) int {
	y1, m1, d1 := dob.Date()
	y2, m2, d2 := now.Date()
	age := y2 - y1
	if m2 < m1 || m2 == m1 && d2 < d1 {
		age--
	}
	return age
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
