package awsapi

import (
	"errors"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// wrap turns an SDK error into an *Error naming the action, the resource
// and the principal.
func (s *Session) wrap(err error, action, resource string) error {
	if err == nil {
		return nil
	}
	e := &Error{Action: action, Resource: resource, Principal: s.principal, Err: err}
	// Assuming the role failed before the request could be made: say so,
	// and whose credentials were refused.
	for u := err; u != nil; u = errors.Unwrap(u) {
		if op, ok := u.(*smithy.OperationError); ok && op.ServiceID == "STS" {
			e.Action, e.Resource, e.Principal = "sts:"+op.OperationName, s.conf.RoleARN, s.basePrincipal()
			break
		}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code, e.Message = api.ErrorCode(), api.ErrorMessage()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.Status = re.HTTPStatusCode()
	}
	return e
}
