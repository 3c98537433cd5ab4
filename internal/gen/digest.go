package gen

import (
	"crypto"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// CloudTrail log file integrity: hourly digest files per account and region,
// chained by the previous digest's hash and signature and signed with RSA
// (SHA256withRSA) over
//
//	digestEndTime "\n" bucket "/" key "\n" hex(sha256(digest)) "\n" previousSignature
//
// as documented by AWS and implemented by aws-cli's validate-logs.

// signer is the demo signing key with its public forms.
type signer struct {
	key         *rsa.PrivateKey
	der         []byte // PKCS#1 RSAPublicKey DER, as ListPublicKeys returns it
	fingerprint string // hex MD5 of der
}

func loadSigner() (*signer, error) {
	block, _ := pem.Decode([]byte(demoSigningKeyPEM))
	if block == nil {
		return nil, errors.New("gen: demo signing key: no PEM block")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("gen: demo signing key: %w", err)
	}
	key.Precompute()
	der := x509.MarshalPKCS1PublicKey(&key.PublicKey)
	fp := md5.Sum(der)
	return &signer{key: key, der: der, fingerprint: hex.EncodeToString(fp[:])}, nil
}

// sign returns the hex signature of a digest.
func (s *signer) sign(stringToSign string) (string, error) {
	h := sha256.Sum256([]byte(stringToSign))
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, h[:])
	if err != nil {
		return "", fmt.Errorf("gen: signing digest: %w", err)
	}
	return hex.EncodeToString(sig), nil
}

// publicKeysJSON renders the key like `aws cloudtrail list-public-keys`
// (the shape of the AWS documentation's example).
func publicKeysJSON(s *signer, from, to int64) []byte {
	var w jw
	w.O()
	w.KA("publicKeyList")
	w.O()
	w.KS("ValidityStartTime", strconv.FormatInt(from, 10)+".0")
	w.KS("ValidityEndTime", strconv.FormatInt(to, 10)+".0")
	w.KS("Value", base64.StdEncoding.EncodeToString(s.der))
	w.KS("Fingerprint", s.fingerprint)
	w.E()
	w.EA()
	w.E()
	return append(w.b, '\n')
}

// chain is the digest chain of one account and region.
type chain struct {
	acct   *account
	region string
	files  []logFile
	offset int64 // digest end time, in seconds after the hour
}

// chains groups the delivered log files by account and region. Every
// account gets a chain in each region in use, and in any other region where
// it had activity (empty hours still get their digest).
func (w *world) chains(cells []cellSpec, res []cellResult) []chain {
	idx := map[[2]int]int{}
	var out []chain
	for ai, a := range w.accounts {
		for ri, region := range w.regions {
			if w.regionW[ri] == 0 {
				has := false
				for i, c := range cells {
					if c.key.acct == ai && c.key.region == ri && len(res[i].files) > 0 {
						has = true
						break
					}
				}
				if !has {
					continue
				}
			}
			idx[[2]int{ai, ri}] = len(out)
			out = append(out, chain{acct: a, region: region, offset: 60 + int64(hashOf(a.h, hashString(region), tagDigest)%3480)})
		}
	}
	for i, c := range cells {
		j, ok := idx[[2]int{c.key.acct, c.key.region}]
		if !ok {
			continue
		}
		ch := &out[j]
		ch.files = append(ch.files, res[i].files...)
	}
	for i := range out {
		slices.SortStableFunc(out[i].files, func(a, b logFile) int {
			if a.stamp != b.stamp {
				return int(a.stamp - b.stamp)
			}
			return 0
		})
	}
	return out
}

// writeChain writes a chain's digest files and returns how many.
func (wk *worker) writeChain(ch chain, s *signer) (int, error) {
	w := wk.w
	a := ch.acct
	last := w.start + int64(w.hours)*3600 + 300
	var (
		prevKey, prevSHA, prevSig string
		n                         int
		fi                        int
		restarted                 bool
	)
	for end := w.start + ch.offset; end-3600 < last; end += 3600 {
		start := end - 3600
		lo := fi
		for fi < len(ch.files) && ch.files[fi].stamp < end {
			fi++
		}
		files := ch.files[lo:fi]
		if w.gap.end > w.gap.start && a.idx == w.gap.acct && start >= w.gap.start && !restarted {
			// Logging was stopped: no digests for the hours without
			// logging, and the chain starts over once it is back.
			prevKey, prevSHA, prevSig = "", "", ""
			if end <= w.gap.end {
				continue
			}
			restarted = true
		}
		key := "AWSLogs/" + w.orgID + "/" + a.id + "/CloudTrail-Digest/" + ch.region + "/" + dateDir(end) +
			a.id + "_CloudTrail-Digest_" + ch.region + "_" + w.trailName + "_" + w.trailHome + "_" + string(appendStamp(nil, end, true)) + ".json.gz"
		var j jw
		j.b = wk.buf[:0]
		j.O()
		j.KS("awsAccountId", a.id)
		j.KT("digestStartTime", start)
		j.KT("digestEndTime", end)
		j.KS("digestS3Bucket", w.trailBucket)
		j.KS("digestS3Object", key)
		j.KS("digestPublicKeyFingerprint", s.fingerprint)
		j.KS("digestSignatureAlgorithm", "SHA256withRSA")
		var newest, oldest int64
		for i, f := range files {
			if i == 0 || f.oldest < oldest {
				oldest = f.oldest
			}
			if f.newest > newest {
				newest = f.newest
			}
		}
		if len(files) == 0 {
			j.KN("newestEventTime")
			j.KN("oldestEventTime")
		} else {
			j.KT("newestEventTime", newest)
			j.KT("oldestEventTime", oldest)
		}
		if prevKey == "" {
			for _, k := range []string{"previousDigestS3Bucket", "previousDigestS3Object", "previousDigestHashValue", "previousDigestHashAlgorithm", "previousDigestSignature"} {
				j.KN(k)
			}
		} else {
			j.KS("previousDigestS3Bucket", w.trailBucket)
			j.KS("previousDigestS3Object", prevKey)
			j.KS("previousDigestHashValue", prevSHA)
			j.KS("previousDigestHashAlgorithm", "SHA-256")
			j.KS("previousDigestSignature", prevSig)
		}
		j.KA("logFiles")
		for _, f := range files {
			j.O()
			j.KS("s3Bucket", w.trailBucket)
			j.KS("s3Object", f.key)
			j.KS("hashValue", f.sha)
			j.KS("hashAlgorithm", "SHA-256")
			j.KT("newestEventTime", f.newest)
			j.KT("oldestEventTime", f.oldest)
			j.E()
		}
		j.EA()
		j.E()
		wk.buf = j.b
		sha := sha256Hex(j.b)
		prev := prevSig
		if prev == "" {
			prev = "null"
		}
		sig, err := s.sign(isoTime(end) + "\n" + w.trailBucket + "/" + key + "\n" + sha + "\n" + prev)
		if err != nil {
			return n, err
		}
		if _, err := wk.put(w.trailBucket, key, j.b, true); err != nil {
			return n, err
		}
		meta := `{"signature":"` + sig + `","signature-algorithm":"SHA256withRSA"}` + "\n"
		if _, err := wk.put(w.trailBucket, key+".metadata.json", []byte(meta), false); err != nil {
			return n, err
		}
		n++
		prevKey, prevSHA, prevSig = key, sha, sig
	}
	return n, nil
}

// writeInsight writes the CloudTrail Insights file (a Start and an End
// event) for the reconnaissance burst and returns the number of events.
func (wk *worker) writeInsight(ip *insightPlan) (int, error) {
	w := wk.w
	r := newRand(w.seed, tagStory, 99)
	shared := uuid(r)
	dur := (ip.end - ip.start) / 60
	avg := float64(ip.count) / float64(dur)
	var j jw
	j.O()
	j.KA("Records")
	for i, state := range []string{"Start", "End"} {
		t := ip.start
		if i == 1 {
			t = ip.end
		}
		j.O()
		j.KS("eventVersion", "1.08")
		j.KT("eventTime", t)
		j.KS("awsRegion", ip.region)
		j.KS("eventID", uuid(r))
		j.KS("eventType", "AwsCloudTrailInsight")
		j.KS("recipientAccountId", ip.acct.id)
		j.KS("sharedEventID", shared)
		j.KO("insightDetails")
		j.KS("state", state)
		j.KS("eventSource", ip.src)
		j.KS("eventName", ip.name)
		j.KS("insightType", "ApiErrorRateInsight")
		j.KS("errorCode", ip.errCode)
		j.KO("insightContext")
		j.KO("statistics")
		j.KO("baseline")
		j.K("average").F(ip.baselineAvg, 10)
		j.E()
		j.KO("insight")
		j.K("average").F(avg, 1)
		j.E()
		if state == "End" {
			j.KI("insightDuration", dur)
		}
		j.KI("baselineDuration", 10080)
		j.E()
		j.KA("attributions")
		attr := func(name, insight, baseline string, bavg float64) {
			j.O()
			j.KS("attribute", name)
			j.KA("insight")
			j.O()
			j.KS("value", insight)
			j.K("average").F(avg, 1)
			j.E()
			j.EA()
			j.KA("baseline")
			if baseline != "" {
				j.O()
				j.KS("value", baseline)
				j.K("average").F(bavg, 10)
				j.E()
			}
			j.EA()
			j.E()
		}
		attr("userIdentityArn", ip.actor, "arn:aws:sts::"+ip.acct.id+":assumed-role/AWSServiceRoleForConfig/AWSConfig-Describe", ip.baselineAvg)
		attr("userAgent", ip.ua, "config.amazonaws.com", ip.baselineAvg)
		attr("errorCode", ip.errCode, ip.errCode, ip.baselineAvg)
		j.EA()
		j.E()
		j.E()
		j.KS("eventCategory", "Insight")
		j.E()
	}
	j.EA()
	j.E()
	stamp := ip.end - mod(ip.end, 300) + 600
	key := "AWSLogs/" + w.orgID + "/" + ip.acct.id + "/CloudTrail-Insight/" + ip.region + "/" + dateDir(stamp) +
		ip.acct.id + "_CloudTrail-Insight_" + ip.region + "_" + string(appendStamp(nil, stamp, false)) + "_" + randChars(r, alnum, 16) + ".json.gz"
	if _, err := wk.put(w.trailBucket, key, j.b, true); err != nil {
		return 0, err
	}
	return 2, nil
}
