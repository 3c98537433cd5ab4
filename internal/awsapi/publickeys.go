package awsapi

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
)

// PublicKey is a CloudTrail public key that signs digest files, as
// ListPublicKeys returns it.
type PublicKey struct {
	Fingerprint       string
	Value             []byte // DER PKCS#1 RSAPublicKey
	ValidityStartTime time.Time
	ValidityEndTime   time.Time
}

// TrailLocation is where a trail delivers its logs.
type TrailLocation struct {
	ARN          string
	Name         string
	HomeRegion   string
	Bucket       string
	Prefix       string // S3KeyPrefix, "" for none
	Organization bool   // an organization trail
	Validation   bool   // log file validation is on
}

// cloudTrailClient returns a CloudTrail client for region ("" = the
// session's). AWS_ENDPOINT_URL_CLOUDTRAIL (or the session's endpoint URL)
// reaches a stand-in for tests.
func (s *Session) cloudTrailClient(region string) *cloudtrail.Client {
	if region == "" {
		region = s.cfg.Region
	}
	return cloudtrail.NewFromConfig(s.cfg, func(o *cloudtrail.Options) { o.Region = region })
}

// PublicKeys returns the public keys CloudTrail used in region to sign
// digest files between start and end (CloudTrail ListPublicKeys, every
// page).
func (s *Session) PublicKeys(ctx context.Context, region string, start, end time.Time) ([]PublicKey, error) {
	c := s.cloudTrailClient(region)
	in := &cloudtrail.ListPublicKeysInput{}
	if !start.IsZero() {
		in.StartTime = aws.Time(start)
	}
	if !end.IsZero() {
		in.EndTime = aws.Time(end)
	}
	var out []PublicKey
	for page := 0; ; page++ {
		res, err := c.ListPublicKeys(ctx, in)
		if err != nil {
			return nil, s.wrap(err, "cloudtrail:ListPublicKeys", "region "+c.Options().Region)
		}
		for _, k := range res.PublicKeyList {
			out = append(out, PublicKey{Fingerprint: aws.ToString(k.Fingerprint), Value: k.Value,
				ValidityStartTime: aws.ToTime(k.ValidityStartTime).UTC(), ValidityEndTime: aws.ToTime(k.ValidityEndTime).UTC()})
		}
		if res.NextToken == nil || *res.NextToken == "" {
			return out, nil
		}
		if page > 1000 {
			return nil, fmt.Errorf("cloudtrail:ListPublicKeys in %s: more than 1000 pages", c.Options().Region)
		}
		in.NextToken = res.NextToken
	}
}

// Trail describes one trail (CloudTrail DescribeTrails in the trail's home
// region, named by its ARN): where it delivers its logs.
func (s *Session) Trail(ctx context.Context, homeRegion, arn string) (*TrailLocation, error) {
	c := s.cloudTrailClient(homeRegion)
	res, err := c.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{TrailNameList: []string{arn}, IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return nil, s.wrap(err, "cloudtrail:DescribeTrails", arn)
	}
	for _, t := range res.TrailList {
		if aws.ToString(t.TrailARN) != arn && aws.ToString(t.Name) != arn {
			continue
		}
		return &TrailLocation{ARN: aws.ToString(t.TrailARN), Name: aws.ToString(t.Name), HomeRegion: aws.ToString(t.HomeRegion),
			Bucket: aws.ToString(t.S3BucketName), Prefix: aws.ToString(t.S3KeyPrefix),
			Organization: aws.ToBool(t.IsOrganizationTrail), Validation: aws.ToBool(t.LogFileValidationEnabled)}, nil
	}
	return nil, &Error{Action: "cloudtrail:DescribeTrails", Resource: arn, Principal: s.principal, Code: "TrailNotFoundException",
		Message: "the trail does not exist in " + c.Options().Region + " (or the principal cannot see it)", Status: 404}
}
