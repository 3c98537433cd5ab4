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
