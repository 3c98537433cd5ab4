// Package dir is the local-files source: it walks files and directories
// (recursively) or reads standard input, and yields the objects in the
// order their keys say they were delivered, so that ingestion is roughly
// time-ordered (which keeps the store's duplicate check cheap).
package dir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/event"
	"github.com/trailwatch/trailwatch/internal/pipeline"
)

// SidecarSuffix names the file beside a digest that holds its S3 user
// metadata (the signature), as written by `trailwatch download` and the
// demo generator.
const SidecarSuffix = ".metadata.json"

// Source yields local files as pipeline objects.
type Source struct {
	files []file
	next  int
	stdin io.Reader
}

type file struct {
	path string
	info fs.FileInfo
	key  time.Time
}

// Open lists the files under paths ("-" is standard input, read once).
// Hidden files and directories, sidecars and obvious non-log files are
// left out.
func Open(paths []string, stdin io.Reader) (*Source, error) {
	s := &Source{}
	var errs []error
	for _, p := range paths {
		if p == "-" {
			s.stdin = stdin
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !info.IsDir() {
			s.add(p, info)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			name := d.Name()
			if path != p && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !d.Type().IsRegular() || skipName(name) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			s.add(path, info)
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	slices.SortStableFunc(s.files, func(a, b file) int {
		if c := a.key.Compare(b.key); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	if len(s.files) == 0 && s.stdin == nil && len(errs) == 0 {
		errs = append(errs, errors.New("no files found"))
	}
	return s, errors.Join(errs...)
}

// skipName leaves out files that are not logs: sidecars, generator and
// download manifests, checksums.
func skipName(name string) bool {
	return strings.HasSuffix(name, SidecarSuffix) || name == "stories.json" || name == "public-keys.json" ||
		strings.HasSuffix(name, ".md") || strings.HasSuffix(name, ".sha256")
}

func (s *Source) add(path string, info fs.FileInfo) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	s.files = append(s.files, file{path: abs, info: info, key: event.ClassifyKey(abs).Date})
}

// Len returns how many files the source holds (standard input not counted).
func (s *Source) Len() int { return len(s.files) }

// Bytes returns the total size of the files.
func (s *Source) Bytes() int64 {
	var n int64
	for _, f := range s.files {
		n += f.info.Size()
	}
	return n
}

// Next returns the next file, then standard input if asked for, then io.EOF.
func (s *Source) Next(ctx context.Context) (*pipeline.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.next < len(s.files) {
		f := s.files[s.next]
		s.next++
		return &pipeline.Object{
			Ref:  event.ObjectRef{Key: f.path, Size: f.info.Size(), LastModified: f.info.ModTime()},
			Open: func(context.Context) (io.ReadCloser, error) { return os.Open(f.path) },
			Meta: sidecar(f.path),
		}, nil
	}
	if s.stdin != nil {
		in := s.stdin
		s.stdin = nil
		return &pipeline.Object{
			Ref:  event.ObjectRef{Key: "(stdin)"},
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(in), nil },
		}, nil
	}
	return nil, io.EOF
}

// sidecar reads the S3 metadata saved beside a digest file, if any.
func sidecar(path string) map[string]string {
	if !strings.Contains(filepath.ToSlash(path), "/CloudTrail-Digest/") {
		return nil
	}
	data, err := os.ReadFile(path + SidecarSuffix)
	if err != nil {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil
	}
	for k, v := range m {
		if after, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok {
			m[after] = v
		}
	}
	return m
}

// String describes the source for logs.
func (s *Source) String() string { return fmt.Sprintf("%d local files", len(s.files)) }
