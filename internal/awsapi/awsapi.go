// Package awsapi is trailwatch's only door to AWS: credentials (the SDK's
// default chain, profiles, STS AssumeRole with an external ID), endpoint
// overrides for S3- and SQS-compatible servers, and small clients for the
// calls the collector makes — SQS queues, S3 objects and listings — with
// errors that say which permission failed on what, for whom.
//
// Other packages see only this package's types, never the SDK's.
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Config says how to reach AWS for one source.
type Config struct {
	Profile     string        // shared config profile; "" = default chain
	Region      string        // region of the queue or bucket; "" = from the environment or profile
	RoleARN     string        // role to assume, if any
	ExternalID  string        // external ID the role's trust policy requires
	SessionName string        // role session name; default "trailwatch"
	Duration    time.Duration // role session duration; default 1h (refreshed before expiry)
	EndpointURL string        // one endpoint for every service (S3-/SQS-compatible servers); AWS_ENDPOINT_URL* also work
	S3PathStyle bool          // path-style S3 URLs (needed by most S3-compatible servers)
	MaxAttempts int           // SDK retries per call; default 5
	Logger      *slog.Logger
}

// Session holds credentials for one Config and makes clients per region.
type Session struct {
	cfg       aws.Config
	conf      Config
	principal string // for error messages: the role, or "the default credentials"

	mu  sync.Mutex
	s3  map[string]*s3.Client
	sqs map[string]*sqs.Client
	// bucketRegion remembers buckets found in another region than asked.
	bucketRegion map[string]string
}

// New loads credentials and configuration. It does not call AWS; the first
// request does (and fails with a clear error when credentials are missing).
func New(ctx context.Context, c Config) (*Session, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SessionName == "" {
		c.SessionName = "trailwatch"
	}
	if c.Duration == 0 {
		c.Duration = time.Hour
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = c.MaxAttempts })
		}),
	}
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.EndpointURL != "" {
		opts = append(opts, config.WithBaseEndpoint(c.EndpointURL))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	s := &Session{cfg: cfg, conf: c, principal: "the default credentials", s3: map[string]*s3.Client{}, sqs: map[string]*sqs.Client{}, bucketRegion: map[string]string{}}
	if c.Profile != "" {
		s.principal = "profile " + c.Profile
	}
	if c.RoleARN != "" {
		stsClient := sts.NewFromConfig(cfg)
		provider := stscreds.NewAssumeRoleProvider(stsClient, c.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = c.SessionName
			o.Duration = c.Duration
			if c.ExternalID != "" {
				o.ExternalID = aws.String(c.ExternalID)
			}
		})
		s.cfg.Credentials = aws.NewCredentialsCache(provider)
		s.principal = "role " + c.RoleARN
	}
	return s, nil
}

// basePrincipal describes the credentials the role is assumed with.
func (s *Session) basePrincipal() string {
	if s.conf.Profile != "" {
		return "profile " + s.conf.Profile
	}
	return "the default credentials"
}

// Principal describes whose credentials the session uses, for messages.
func (s *Session) Principal() string { return s.principal }

// Region returns the session's default region.
func (s *Session) Region() string { return s.cfg.Region }

func (s *Session) s3Client(region string) *s3.Client {
	if region == "" {
		region = s.cfg.Region
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.s3[region]; ok {
		return c
	}
	c := s3.NewFromConfig(s.cfg, func(o *s3.Options) {
		o.Region = region
		o.UsePathStyle = s.conf.S3PathStyle
		// S3-compatible servers do not all know the newer checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	s.s3[region] = c
	return c
}

func (s *Session) sqsClient(region string) *sqs.Client {
	if region == "" {
		region = s.cfg.Region
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.sqs[region]; ok {
		return c
	}
	c := sqs.NewFromConfig(s.cfg, func(o *sqs.Options) { o.Region = region })
	s.sqs[region] = c
	return c
}

// QueueRegion extracts the region from an SQS queue URL
// (https://sqs.<region>.amazonaws.com/<account>/<name>), or "".
func QueueRegion(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 3 && (parts[0] == "sqs" || strings.HasPrefix(parts[0], "sqs-")) {
		return parts[1]
	}
	if len(parts) >= 3 && parts[1] == "queue" { // legacy <region>.queue.amazonaws.com
		return parts[0]
	}
	return ""
}

// Error is a failed AWS call, described for a user.
type Error struct {
	Action    string // e.g. s3:GetObject
	Resource  string // e.g. s3://bucket/key
	Principal string
	Code      string // the service's error code, e.g. AccessDenied
	Message   string
	Status    int // HTTP status, 0 when unknown
	Err       error
}

func (e *Error) Error() string {
	verb := "failed"
	if e.Denied() {
		verb = "denied"
	}
	msg := fmt.Sprintf("%s %s on %s for %s", e.Action, verb, e.Resource, e.Principal)
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	} else if e.Code == "" && e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Denied reports an authorization failure (IAM, bucket or key policy, KMS).
func (e *Error) Denied() bool {
	switch e.Code {
	case "AccessDenied", "AccessDeniedException", "KMS.AccessDeniedException", "Forbidden",
		"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidClientTokenId",
		"KMS.DisabledException", "KMS.NotFoundException", "KMS.KMSInvalidStateException":
		return true
	}
	return e.Status == 403
}

// NotFound reports a missing object, bucket or queue.
func (e *Error) NotFound() bool {
	switch e.Code {
	case "NoSuchKey", "NoSuchBucket", "NotFound", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NoSuchVersion":
		return true
	}
	return e.Status == 404
}

// Retryable reports a failure that may pass later: throttling, server
// errors, timeouts, network trouble — and denials, which an operator may fix
// (the message then waits in the queue rather than being dropped).
func (e *Error) Retryable() bool {
	if e.NotFound() {
		return false
	}
	if errors.Is(e.Err, context.Canceled) {
		return false
	}
	return true
}

// Reason is a short label for metrics: access_denied, not_found,
// throttled, server_error, network, canceled or aws_error.
func (e *Error) Reason() string {
	switch {
	case e.Denied():
		return "access_denied"
	case e.NotFound():
		return "not_found"
	case errors.Is(e.Err, context.Canceled):
		return "canceled"
	case e.Status == 429 || e.Status == 503 || strings.Contains(e.Code, "Throttl") || e.Code == "SlowDown" || e.Code == "RequestLimitExceeded" || e.Code == "TooManyRequestsException":
		return "throttled"
	case e.Status >= 500:
		return "server_error"
	case e.Status == 0:
		return "network"
	}
	return "aws_error"
}

// IsNotFound reports whether err is an Error for a missing resource.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.NotFound()
}

// IsRetryable reports whether err may succeed on a later attempt.
func IsRetryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable()
	}
	return false
}
