package detect

import (
	"fmt"
	"strings"
)

// Level is a Sigma rule level (severity).
type Level uint8

// The Sigma levels, in increasing severity.
const (
	LevelInformational Level = iota
	LevelLow
	LevelMedium
	LevelHigh
	LevelCritical
)

var levelNames = [...]string{"informational", "low", "medium", "high", "critical"}

// String returns the level's Sigma name.
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "unknown"
}

// ParseLevel parses a Sigma level name (case-insensitive; "info" is
// accepted for informational).
func ParseLevel(s string) (Level, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "info" {
		return LevelInformational, nil
	}
	for i, n := range levelNames {
		if s == n {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown level %q (want informational, low, medium, high or critical)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
