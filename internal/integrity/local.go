package integrity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// SidecarSuffix names the file beside a digest in a local copy that holds
// the digest object's S3 user metadata (its signature), the same suffix
// package source/dir reads: "<digest>.metadata.json".
const SidecarSuffix = ".metadata.json"

// LocalBuckets reads downloaded copies of buckets from a directory. Root
// holds either one directory per bucket (Root/<bucket>/AWSLogs/…, as the
// demo generator and `trailwatch download` write) or, when Name is set, the
// content of the bucket Name itself (Root/AWSLogs/…, as `aws s3 sync
// s3://<bucket> Root` writes).
type LocalBuckets struct {
	Root string
	Name string
}

// Bucket returns the local copy of the bucket name, or an error wrapping
// ErrNotFound when the directory does not hold it.
func (l LocalBuckets) Bucket(_ context.Context, name string) (Bucket, error) {
	if name != "" && filepath.IsLocal(name) && !strings.ContainsAny(name, `/\`) {
		if fi, err := os.Stat(filepath.Join(l.Root, name)); err == nil && fi.IsDir() {
			return LocalBucket{Dir: filepath.Join(l.Root, name)}, nil
		}
	}
	if l.Name != "" && name == l.Name {
		return LocalBucket{Dir: l.Root}, nil
	}
	return nil, fmt.Errorf("bucket %s: no copy in %s: %w", name, l.Root, ErrNotFound)
}

// LocalBucket is a local copy of one bucket: the object with key k is the
// file Dir/k, and its S3 user metadata, when kept, is in Dir/k.metadata.json
// (see ReadSidecar). Hidden files and sidecars are not objects.
type LocalBucket struct {
	Dir string
}

// objectPath maps a key to its file, refusing keys that leave the directory
// (a digest names the keys it wants read).
func (b LocalBucket) objectPath(key string) (string, error) {
	if key == "" || !filepath.IsLocal(filepath.FromSlash(key)) || strings.Contains(key, "\\") {
		return "", fmt.Errorf("key %q: not a key this local copy can hold: %w", key, ErrNotFound)
	}
	return filepath.Join(b.Dir, filepath.FromSlash(key)), nil
}

// Get opens the file for key; metadata comes from its sidecar, nil without
// one.
func (b LocalBucket) Get(_ context.Context, key string) (io.ReadCloser, map[string]string, error) {
	p, err := b.objectPath(key)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is a directory: %w", key, ErrNotFound)
	}
	meta, err := ReadSidecar(p + SidecarSuffix)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.Close()
		return nil, nil, err
	}
	return f, meta, nil
}

// ReadSidecar reads a metadata sidecar: a JSON object of the object's user
// metadata, with or without the x-amz-meta- prefix
// ({"signature":"…","signature-algorithm":"SHA256withRSA"}), or the output
// of `aws s3api head-object` (its "Metadata" member). Keys are returned in
// lower case without the prefix. A missing file is an error wrapping
// fs.ErrNotExist.
func ReadSidecar(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("metadata sidecar %s: %w", file, err)
	}
	for k, v := range top {
		if strings.EqualFold(k, "Metadata") {
			var inner map[string]json.RawMessage
			if json.Unmarshal(v, &inner) == nil {
				top = inner
			}
			break
		}
	}
	meta := make(map[string]string, len(top))
	for k, v := range top {
		var s string
		if json.Unmarshal(v, &s) != nil {
			continue
		}
		k = strings.ToLower(k)
		k = strings.TrimPrefix(k, "x-amz-meta-")
		meta[k] = s
	}
	return meta, nil
}

// List walks the directory under prefix and yields the objects in key
// order (byte order of whole keys, as S3: "a-b" before "a/c"), reading
// directories as it goes, so a consumer that stops early does not pay for
// the rest. Directories whose keys all sort at or before startAfter are not
// read.
func (b LocalBucket) List(ctx context.Context, prefix, startAfter string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		// Start from the deepest directory the prefix names.
		dirKey := prefix[:strings.LastIndexByte(prefix, '/')+1]
		root := b.Dir
		if dirKey != "" {
			p, err := b.objectPath(strings.TrimSuffix(dirKey, "/"))
			if err != nil {
				return
			}
			root = p
		}
		b.walk(ctx, root, dirKey, prefix, startAfter, yield)
	}
}

// walk yields the objects under dir (whose keys start with dirKey) in key
// order; it returns false when the consumer stopped.
func (b LocalBucket) walk(ctx context.Context, dir, dirKey, prefix, startAfter string, yield func(ObjectInfo, error) bool) bool {
	if err := ctx.Err(); err != nil {
		return yield(ObjectInfo{}, err)
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return true
	}
	if err != nil {
		return yield(ObjectInfo{}, fmt.Errorf("listing %s: %w", dir, err))
	}
	type entry struct {
		key string // the key, or the key prefix ending in "/" for a directory
		de  fs.DirEntry
	}
	list := make([]entry, 0, len(ents))
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		k := dirKey + name
		if e.IsDir() {
			k += "/"
		}
		list = append(list, entry{k, e})
	}
	slices.SortFunc(list, func(x, y entry) int { return strings.Compare(x.key, y.key) })
	for _, e := range list {
		if e.de.IsDir() {
			// Skip a directory whose keys all sort at or before
			// startAfter, or none of whose keys can start with prefix.
			if e.key < startAfter && !strings.HasPrefix(startAfter, e.key) {
				continue
			}
			if !strings.HasPrefix(e.key, prefix) && !strings.HasPrefix(prefix, e.key) {
				continue
			}
			if !b.walk(ctx, filepath.Join(dir, e.de.Name()), e.key, prefix, startAfter, yield) {
				return false
			}
			continue
		}
		if !e.de.Type().IsRegular() || strings.HasSuffix(e.key, SidecarSuffix) || !strings.HasPrefix(e.key, prefix) || e.key <= startAfter {
			continue
		}
		info, err := e.de.Info()
		if err != nil {
			if !yield(ObjectInfo{}, err) {
				return false
			}
			continue
		}
		if !yield(ObjectInfo{Key: e.key, Size: info.Size(), LastModified: info.ModTime()}, nil) {
			return false
		}
	}
	return true
}

// Prefixes returns the directories directly under prefix (which must be ""
// or end in "/"), as S3's common prefixes.
func (b LocalBucket) Prefixes(_ context.Context, prefix string) ([]string, error) {
	dir := b.Dir
	if prefix != "" {
		p, err := b.objectPath(strings.TrimSuffix(prefix, "/"))
		if err != nil {
			return nil, nil
		}
		dir = p
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, prefix+e.Name()+"/")
		}
	}
	slices.Sort(out)
	return out, nil
}

// prefixes returns the common prefixes under p, listing in full when the
// bucket cannot list by delimiter.
func prefixes(ctx context.Context, b Bucket, p string) ([]string, error) {
	if pl, ok := b.(PrefixLister); ok {
		return pl.Prefixes(ctx, p)
	}
	seen := map[string]bool{}
	var out []string
	for o, err := range b.List(ctx, p, "") {
		if err != nil {
			return nil, err
		}
		rest := o.Key[len(p):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			cp := p + rest[:i+1]
			if !seen[cp] {
				seen[cp] = true
				out = append(out, cp)
			}
		}
	}
	return out, nil
}

// segment returns the last path segment of a common prefix ("a/b/" → "b").
func segment(p string) string { return path.Base(strings.TrimSuffix(p, "/")) }

// BucketName returns the bucket named by the digests in a copy of a
// bucket (their digestS3Bucket), for a copy whose directory does not say
// which bucket it holds. It returns "" when the copy holds no digest.
func BucketName(ctx context.Context, b Bucket, prefix string) (string, error) {
	p := awsLogsPrefix(strings.Trim(prefix, "/"), "")
	for o, err := range b.List(ctx, p, "") {
		if err != nil {
			return "", err
		}
		if _, ok := ParseDigestKey(o.Key); !ok {
			continue
		}
		body, _, err := b.Get(ctx, o.Key)
		if err != nil {
			return "", err
		}
		d, err := readDigest(body)
		body.Close()
		if err == nil && d.DigestS3Bucket != "" {
			return d.DigestS3Bucket, nil
		}
	}
	return "", nil
}
