package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as Go durations ("90s", "1h30m") or
// with day and week units ("90d", "2w"); a bare number is seconds.
type Duration time.Duration

// ParseDuration parses a Duration.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("invalid duration %q: negative", s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	var mult time.Duration
	switch {
	case strings.HasSuffix(s, "d"):
		mult = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		mult = 7 * 24 * time.Hour
	}
	if mult > 0 {
		n, err := strconv.ParseFloat(s[:len(s)-1], 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 90d, 2w, 36h, 15m)", s)
		}
		return time.Duration(n * float64(mult)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 90d, 2w, 36h, 15m)", s)
	}
	return d, nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// String returns the duration in Go syntax.
func (d Duration) String() string { return time.Duration(d).String() }

// Date is a UTC day ("2026-01-31") or an RFC 3339 time.
type Date struct{ time.Time }

// ParseDate parses a Date; relative ages ("30d": that long ago) are
// accepted too.
func ParseDate(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01-02T15:04:05", "2006/01/02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if d, err := ParseDuration(s); err == nil && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid date %q (use 2026-01-31, an RFC 3339 time or an age such as 30d)", s)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := ParseDate(n.Value, time.Now())
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.Time = t
	return nil
}

// String returns the date as YYYY-MM-DD (or RFC 3339 with a time of day).
func (d Date) String() string {
	if d.Time.Equal(d.Time.Truncate(24 * time.Hour)) {
		return d.Time.Format("2006-01-02")
	}
	return d.Time.Format(time.RFC3339)
}
