package integrity

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StaticKeys holds public keys read from files: the output of
// `aws cloudtrail list-public-keys` (see ReadPublicKeys). Keys added for the
// region "" apply to every region. It implements PublicKeys: like
// ListPublicKeys, it returns the keys whose validity overlaps the range.
type StaticKeys struct {
	byRegion map[string][]PublicKey
}

// Add adds keys for region ("" for any region).
func (s *StaticKeys) Add(region string, keys ...PublicKey) {
	if s.byRegion == nil {
		s.byRegion = map[string][]PublicKey{}
	}
	s.byRegion[region] = append(s.byRegion[region], keys...)
}

// LoadFile reads a list-public-keys file. spec is FILE, or REGION=FILE to
// use the keys for that region only.
func (s *StaticKeys) LoadFile(spec string) error {
	region, file := "", spec
	if r, f, ok := strings.Cut(spec, "="); ok && !strings.ContainsAny(r, `/\.`) {
		region, file = r, f
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("public keys: %w", err)
	}
	keys, err := ReadPublicKeys(data)
	if err != nil {
		return fmt.Errorf("public keys %s: %w", file, err)
	}
	s.Add(region, keys...)
	return nil
}

// PublicKeys returns the keys for region whose validity overlaps start–end.
func (s *StaticKeys) PublicKeys(_ context.Context, region string, start, end time.Time) ([]PublicKey, error) {
	var out []PublicKey
	for _, r := range []string{region, ""} {
		for _, k := range s.byRegion[r] {
			if (k.ValidityEndTime.IsZero() || !k.ValidityEndTime.Before(start)) &&
				(k.ValidityStartTime.IsZero() || !k.ValidityStartTime.After(end)) {
				out = append(out, k)
			}
		}
		if region == "" {
			break
		}
	}
	return out, nil
}

// ReadPublicKeys parses the output of `aws cloudtrail list-public-keys`:
// {"PublicKeyList":[{"Value":"<base64 DER>","ValidityStartTime":…,
// "ValidityEndTime":…,"Fingerprint":"…"}]} (member names in any case, as the
// AWS documentation's example spells them "publicKeyList"), or a bare array
// of keys. Times may be epoch seconds (number or string, as AWS CLI v1
// prints them) or ISO 8601 (AWS CLI v2).
func ReadPublicKeys(data []byte) ([]PublicKey, error) {
	type keyJSON struct {
		Value             string          `json:"Value"`
		Fingerprint       string          `json:"Fingerprint"`
		ValidityStartTime json.RawMessage `json:"ValidityStartTime"`
		ValidityEndTime   json.RawMessage `json:"ValidityEndTime"`
	}
	var list []keyJSON
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, err
		}
	} else {
		var top struct {
			PublicKeyList []keyJSON `json:"PublicKeyList"`
		}
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, err
		}
		list = top.PublicKeyList
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("no keys (expected the output of aws cloudtrail list-public-keys)")
	}
	out := make([]PublicKey, 0, len(list))
	for i, k := range list {
		der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k.Value))
		if err != nil {
			return nil, fmt.Errorf("key %d (%s): Value is not base64: %w", i, k.Fingerprint, err)
		}
		if k.Fingerprint == "" {
			return nil, fmt.Errorf("key %d: no Fingerprint", i)
		}
		pk := PublicKey{Fingerprint: k.Fingerprint, Value: der}
		if pk.ValidityStartTime, err = parseKeyTime(k.ValidityStartTime); err != nil {
			return nil, fmt.Errorf("key %s: ValidityStartTime: %w", k.Fingerprint, err)
		}
		if pk.ValidityEndTime, err = parseKeyTime(k.ValidityEndTime); err != nil {
			return nil, fmt.Errorf("key %s: ValidityEndTime: %w", k.Fingerprint, err)
		}
		out = append(out, pk)
	}
	return out, nil
}

// parseKeyTime reads a time as the AWS CLI prints it: a number of epoch
// seconds, the same as a string, or an ISO 8601 string. null and absent
// are the zero time.
func parseKeyTime(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, err
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unparseable time %s", raw)
}

// keyValidityTolerance is how far outside a key's validity a digest may be
// signed: the digest's end time and the moment it was signed differ by the
// delivery delay.
const keyValidityTolerance = time.Hour

// keyRing caches public keys per region, loading ranges from a PublicKeys
// source on demand.
type keyRing struct {
	src PublicKeys
	mu  sync.Mutex
	reg map[string]*regionKeys
}

type regionKeys struct {
	keys   map[string][]PublicKey // by fingerprint
	loaded [][2]time.Time
}

func newKeyRing(src PublicKeys) *keyRing {
	return &keyRing{src: src, reg: map[string]*regionKeys{}}
}

// load fetches the keys of region for start–end unless that range was
// loaded.
func (k *keyRing) load(ctx context.Context, region string, start, end time.Time) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	rk := k.reg[region]
	if rk == nil {
		rk = &regionKeys{keys: map[string][]PublicKey{}}
		k.reg[region] = rk
	}
	for _, l := range rk.loaded {
		if !start.Before(l[0]) && !end.After(l[1]) {
			return nil
		}
	}
	keys, err := k.src.PublicKeys(ctx, region, start, end)
	if err != nil {
		return fmt.Errorf("public keys for %s between %s and %s: %w", region, DisplayTime(start), DisplayTime(end), err)
	}
	rk.loaded = append(rk.loaded, [2]time.Time{start, end})
next:
	for _, pk := range keys {
		for _, have := range rk.keys[pk.Fingerprint] {
			if have.ValidityStartTime.Equal(pk.ValidityStartTime) && have.ValidityEndTime.Equal(pk.ValidityEndTime) && bytes.Equal(have.Value, pk.Value) {
				continue next
			}
		}
		rk.keys[pk.Fingerprint] = append(rk.keys[pk.Fingerprint], pk)
	}
	return nil
}

// find returns the key of region with fingerprint valid at t. ok is false
// when no key has the fingerprint; valid is false when one has it but is not
// valid at t (the key is returned for the message).
func (k *keyRing) find(ctx context.Context, region, fingerprint string, t time.Time) (pk PublicKey, ok, valid bool, err error) {
	lookup := func() (PublicKey, bool, bool) {
		k.mu.Lock()
		defer k.mu.Unlock()
		rk := k.reg[region]
		if rk == nil || len(rk.keys[fingerprint]) == 0 {
			return PublicKey{}, false, false
		}
		cands := rk.keys[fingerprint]
		for _, c := range cands {
			if (c.ValidityStartTime.IsZero() || !t.Before(c.ValidityStartTime.Add(-keyValidityTolerance))) &&
				(c.ValidityEndTime.IsZero() || !t.After(c.ValidityEndTime.Add(keyValidityTolerance))) {
				return c, true, true
			}
		}
		return cands[0], true, false
	}
	if pk, ok, valid = lookup(); ok && valid {
		return pk, ok, valid, nil
	}
	// Not loaded for this time yet: ask for the hours around it.
	if err := k.load(ctx, region, t.Add(-time.Hour), t.Add(time.Hour)); err != nil {
		return PublicKey{}, false, false, err
	}
	pk, ok, valid = lookup()
	return pk, ok, valid, nil
}
