package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// fileSink appends alerts to a file as JSON lines.
type fileSink struct {
	f *os.File
}

func newFile(c SinkConfig) (*fileSink, error) {
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o755); err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	f, err := os.OpenFile(c.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	return &fileSink{f: f}, nil
}

func (s *fileSink) Send(_ context.Context, a Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	return nil
}

func (s *fileSink) Close() error { return s.f.Close() }
