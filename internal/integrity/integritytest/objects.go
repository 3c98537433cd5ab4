package integritytest

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Buckets returns the bucket directories of root (one directory per
// bucket, as Write lays them out).
func Buckets(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Objects calls fn for every object under root (one directory per
// bucket), with the user metadata of its <key>.metadata.json sidecar (nil
// without one), on workers goroutines: the way to put a written chain into
// an S3 server as CloudTrail delivers it. It returns the first error.
func Objects(root string, workers int, fn func(bucket, key string, data []byte, meta map[string]string) error) error {
	type obj struct{ bucket, key, path string }
	var objs []obj
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".metadata.json") {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		bucket, key, ok := strings.Cut(filepath.ToSlash(rel), "/")
		if ok {
			objs = append(objs, obj{bucket, key, p})
		}
		return nil
	})
	if err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan obj)
	)
	for range max(1, workers) {
		wg.Go(func() {
			for o := range next {
				if err := putOne(o.bucket, o.key, o.path, fn); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, o := range objs {
		next <- o
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

func putOne(bucket, key, path string, fn func(bucket, key string, data []byte, meta map[string]string) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var meta map[string]string
	if m, err := os.ReadFile(path + ".metadata.json"); err == nil {
		if err := json.Unmarshal(m, &meta); err != nil {
			return err
		}
	}
	return fn(bucket, key, data, meta)
}
