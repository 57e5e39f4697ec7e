// Package armfirewall implements tre.Firewall on the rule collection
// groups of one Azure Firewall Policy, through Azure Resource Manager
// (armnetwork v6, API version 2024-05-01).
//
// A write is an ARM long-running operation: PUT (or DELETE), then polling
// the Azure-AsyncOperation URL until it succeeds or fails. Azure applies one
// update of a policy at a time, so this backend does not parallelise and
// relies on firewall.Reconciler's lease for one writer across instances.
// Throttling (429 with Retry-After) and transient server errors are retried
// by azcore's retry policy, configured here with more patience than its
// defaults.
package armfirewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/tre-go/tre/internal/tre"
)

// Config names the firewall policy.
type Config struct {
	SubscriptionID string
	ResourceGroup  string
	PolicyName     string
	// PollFrequency is the wait between two status checks of a write when
	// Azure sends no Retry-After. Default 10 s. azcore refuses less than
	// one second outside `go test`.
	PollFrequency time.Duration
}

// Retry defaults applied when the caller's arm.ClientOptions leave them
// zero. azcore's defaults are 3 retries and a 60 s cap; a Retry-After above
// the cap is not waited for at all, and ARM's throttling can ask for more.
const (
	DefaultMaxRetries    = 5
	DefaultMaxRetryDelay = 2 * time.Minute
	defaultPollFrequency = 10 * time.Second
)

// Backend is tre.Firewall on one Azure Firewall Policy.
type Backend struct {
	client *armnetwork.FirewallPolicyRuleCollectionGroupsClient
	cfg    Config
}

var _ tre.Firewall = (*Backend)(nil)

// New returns the backend for cfg's policy, authenticating with cred.
// opts may be nil; zero retry settings get DefaultMaxRetries and
// DefaultMaxRetryDelay (429, 408, 500, 502, 503, 504 are retried, honouring
// Retry-After). Returns CodeInvalid for a missing setting.
func New(cfg Config, cred azcore.TokenCredential, opts *arm.ClientOptions) (*Backend, error) {
	var problems []tre.FieldError
	add := func(field, msg string) { problems = append(problems, tre.FieldError{Field: field, Message: msg}) }
	if cfg.SubscriptionID == "" {
		add("SubscriptionID", "is empty")
	}
	if cfg.ResourceGroup == "" {
		add("ResourceGroup", "is empty")
	}
	if cfg.PolicyName == "" {
		add("PolicyName", "is empty")
	}
	if cfg.PollFrequency < 0 {
		add("PollFrequency", "is negative")
	}
	if cred == nil {
		add("credential", "is nil")
	}
	if err := tre.InvalidFields("armfirewall: invalid configuration", problems); err != nil {
		return nil, err
	}
	if cfg.PollFrequency == 0 {
		cfg.PollFrequency = defaultPollFrequency
	}
	o := opts.Clone()
	if o == nil {
		o = &arm.ClientOptions{}
	}
	if o.Retry.MaxRetries == 0 {
		o.Retry.MaxRetries = DefaultMaxRetries
	}
	if o.Retry.MaxRetryDelay == 0 {
		o.Retry.MaxRetryDelay = DefaultMaxRetryDelay
	}
	client, err := armnetwork.NewFirewallPolicyRuleCollectionGroupsClient(cfg.SubscriptionID, cred, o)
	if err != nil {
		return nil, fmt.Errorf("armfirewall: new client: %w", err)
	}
	return &Backend{client: client, cfg: cfg}, nil
}

// Groups implements tre.Firewall, following the list's pages.
func (b *Backend) Groups(ctx context.Context) ([]tre.RuleCollectionGroup, error) {
	var out []tre.RuleCollectionGroup
	pager := b.client.NewListPager(b.cfg.ResourceGroup, b.cfg.PolicyName, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("armfirewall: list groups of %s: %w", b.cfg.PolicyName, translate(err))
		}
		for _, g := range page.Value {
			if g != nil {
				out = append(out, fromSDK(g))
			}
		}
	}
	return out, nil
}

// Put implements tre.Firewall: PUT the whole group and wait until Azure
// has applied it.
func (b *Backend) Put(ctx context.Context, g tre.RuleCollectionGroup) error {
	if err := g.Check(); err != nil {
		return fmt.Errorf("armfirewall: put %s: %w", g.Name, err)
	}
	params, err := toSDK(g)
	if err != nil {
		return fmt.Errorf("armfirewall: put %s: %w", g.Name, err)
	}
	poller, err := b.client.BeginCreateOrUpdate(ctx, b.cfg.ResourceGroup, b.cfg.PolicyName, g.Name, params, nil)
	if err != nil {
		return fmt.Errorf("armfirewall: put %s: %w", g.Name, translate(err))
	}
	if _, err := poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: b.cfg.PollFrequency}); err != nil {
		return fmt.Errorf("armfirewall: put %s: %w", g.Name, translate(err))
	}
	return nil
}

// Delete implements tre.Firewall: DELETE the group and wait until Azure
// has removed it; a group that is not there counts as deleted.
func (b *Backend) Delete(ctx context.Context, name string) error {
	poller, err := b.client.BeginDelete(ctx, b.cfg.ResourceGroup, b.cfg.PolicyName, name, nil)
	if isStatus(err, http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("armfirewall: delete %s: %w", name, translate(err))
	}
	if _, err := poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: b.cfg.PollFrequency}); err != nil {
		return fmt.Errorf("armfirewall: delete %s: %w", name, translate(err))
	}
	return nil
}

// ServiceError is an error answer of Azure: the HTTP status of the response
// that carried it (200 for a long-running operation that ended Failed), and
// the service's error code and message. It wraps the *azcore.ResponseError.
type ServiceError struct {
	StatusCode int
	Code       string
	Message    string
	err        error
}

// Error returns the service's code and the HTTP status; Message is in the
// *tre.Error that wraps it.
func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Code, e.StatusCode)
}

// Unwrap returns the *azcore.ResponseError.
func (e *ServiceError) Unwrap() error { return e.err }

// translate turns an SDK error into a *tre.Error: Azure's answers keep their
// code and message in a *ServiceError; a cancelled context is returned as
// is; anything else (no token, no connection) is CodeUnavailable.
func translate(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return tre.WrapError(tre.CodeUnavailable, err, "azure firewall unreachable")
	}
	svc := &ServiceError{StatusCode: re.StatusCode, Code: re.ErrorCode, err: re}
	var body struct {
		Status  string `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Error   *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if re.RawResponse != nil {
		if data, perr := runtime.Payload(re.RawResponse); perr == nil {
			_ = json.Unmarshal(data, &body)
		}
	}
	if body.Error != nil {
		body.Code, body.Message = body.Error.Code, body.Error.Message
	}
	if svc.Code == "" {
		svc.Code = body.Code
	}
	svc.Message = body.Message
	if svc.Code == "" && body.Status != "" {
		svc.Code = body.Status // an operation Canceled without an error
	}
	if svc.Message == "" {
		svc.Message = http.StatusText(re.StatusCode)
	}

	code, what := tre.CodeUnavailable, "azure firewall unavailable"
	switch {
	case re.StatusCode < 300:
		// The write was accepted and then failed while Azure applied it.
		what = "azure firewall operation failed"
	case re.StatusCode == http.StatusBadRequest:
		code, what = tre.CodeInvalid, "azure firewall refused the request"
	case re.StatusCode == http.StatusUnauthorized, re.StatusCode == http.StatusForbidden:
		// Our identity lacks rights on the policy: an operator must fix
		// the deployment, the caller cannot.
		what = "azure firewall refused our credentials"
	case re.StatusCode == http.StatusNotFound:
		code, what = tre.CodeNotFound, "azure firewall policy or group not found"
	case re.StatusCode == http.StatusConflict:
		code, what = tre.CodeConflict, "azure firewall busy"
	case re.StatusCode == http.StatusPreconditionFailed:
		code, what = tre.CodePreconditionFailed, "azure firewall group changed"
	}
	return &tre.Error{Code: code, Message: what + ": " + svc.Message, Err: svc}
}

func isStatus(err error, status int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}
