package hive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hive-workshop/microservices-go/hive/internal/clip"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

const (
	// minAttemptTimeout is the least time an attempt gets when a retry could
	// follow it; see Client.send.
	minAttemptTimeout = 100 * time.Millisecond

	// maxErrorMessage caps the message of a remote error, in bytes: a
	// callee's message ends up in the caller's logs and answers.
	maxErrorMessage = 1024
)

// Client calls the methods of services. It finds their instances through a
// registry, which it watches, so that a call costs no registry round trip.
// A Client is safe for concurrent use.
type Client struct {
	registry registry.Registry
	picker   Picker
	version  string // the range of versions a call accepts, unless its context says otherwise
	timeout  time.Duration
	maxResp  int64
	http     *http.Client
	logger   *slog.Logger

	ctx    context.Context // ends when the client is closed, and its watches with it
	cancel context.CancelFunc

	mu      sync.Mutex
	watches map[string]*watch // per service
}

// ClientOptions configure a Client. The zero value is ready to use.
type ClientOptions struct {
	Picker           Picker        // chooses an instance per call; RoundRobin if nil
	Timeout          time.Duration // for calls without a deadline; DefaultCallTimeout if 0
	MaxResponseBytes int64         // the largest response body read; 1 MiB if 0
	Logger           *slog.Logger  // slog.Default() if nil

	// Version is the range of versions of the callee that every call
	// accepts, such as "^1" (see registry.Range); WithVersion overrides it
	// per call. "" accepts any instance, with or without a version.
	Version string
}

// NewClient returns a client that finds instances through reg. Close it
// when done.
func NewClient(reg registry.Registry, opts ClientOptions) *Client {
	if opts.Picker == nil {
		opts.Picker = RoundRobin()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultCallTimeout
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = defaultMaxBody
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{
		registry: reg,
		picker:   opts.Picker,
		version:  opts.Version,
		timeout:  opts.Timeout,
		maxResp:  opts.MaxResponseBytes,
		http:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}},
		logger:   opts.Logger,
		ctx:      ctx,
		cancel:   cancel,
		watches:  make(map[string]*watch),
	}
}

// Close stops the client's registry watches and closes idle connections.
func (c *Client) Close() error {
	c.cancel()
	c.http.CloseIdleConnections()
	return nil
}

// Call calls method, written "service.method" (for example "menu.get"),
// with req encoded as JSON, and decodes the response into resp, which must
// be a pointer (or nil, to drop the response).
//
// The call ends at ctx's deadline, or after the client's default timeout;
// the deadline and ctx's trace id travel with the request. A failure is an
// *Error: one the remote method returned, with its code, or one that says
// why no answer came (Timeout, Unavailable).
//
// Only instances whose version is in the call's range are called (see
// WithVersion and ClientOptions.Version); when none is, the call fails
// Unavailable, naming the versions that run.
//
// When an instance cannot be reached, or says it is Unavailable, the call is
// tried again on another instance: that is safe because the request was
// never handled. After other failures, timeouts included, only methods
// declared Idempotent are tried again. So that a frozen instance cannot
// hold such a call for its whole deadline, an attempt that another could
// follow gets half the time left.
func (c *Client) Call(ctx context.Context, method string, req, resp any) error {
	service, name, ok := strings.Cut(method, ".")
	if !ok || service == "" || name == "" {
		return fmt.Errorf("hive: call %q: write the method as service.method, for example menu.get", method)
	}
	rng, err := c.versionRange(ctx)
	if err != nil {
		return fmt.Errorf("hive: call %s: %w", method, err)
	}
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	body, err := encode(method, req)
	if err != nil {
		return err
	}

	instances, err := c.instances(ctx, service)
	if err == nil {
		instances, err = inRange(service, rng, instances)
	}
	if err != nil {
		return c.fail(ctx, method, err)
	}
	var lastErr error
	for len(instances) > 0 {
		inst, done := c.picker.Pick(instances)
		instances = slices.DeleteFunc(instances, func(i registry.Instance) bool { return i.ID == inst.ID })
		idempotent := slices.Contains(inst.Idempotent, name)

		err := c.send(ctx, inst, name, body, resp, idempotent && len(instances) > 0)
		done(err)
		if err == nil {
			return nil
		}
		lastErr = err
		if len(instances) == 0 || ctx.Err() != nil || !retryable(err, idempotent) {
			break
		}
		c.logger.WarnContext(ctx, "call failed, trying another instance", "method", method, "callee", inst.ID, "error", err)
	}
	return c.fail(ctx, method, lastErr)
}

// CallInstance calls method (without the service's name: "status") on one
// particular instance, with no picking and no retries. Tools use it to ask
// every instance of a service in turn.
func (c *Client) CallInstance(ctx context.Context, inst registry.Instance, method string, req, resp any) error {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	body, err := encode(inst.Service+"."+method, req)
	if err != nil {
		return err
	}
	if err := c.send(ctx, inst, method, body, resp, false); err != nil {
		return c.fail(ctx, inst.Service+"."+method, err)
	}
	return nil
}

// callContext gives a call its deadline (the client's default, unless ctx
// has one) and its trace id (a new one, unless ctx has one).
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	cancel := context.CancelFunc(func() {})
	if _, has := ctx.Deadline(); !has {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	ctx, _ = ensureTrace(ctx)
	return ctx, cancel
}

// encode returns the request body: req as JSON, or nothing for a nil req.
func encode(method string, req any) ([]byte, error) {
	if req == nil {
		return nil, nil
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("hive: call %s: cannot encode the request as JSON: %w", method, err)
	}
	return body, nil
}

// send makes one attempt at one instance. When another attempt may follow
// (shortened), this one gets only half the time left, and at least
// minAttemptTimeout: an instance that is frozen, rather than dead, then
// costs half the deadline, and the other half is left for another. The
// price: an idempotent method that needs more than half of its caller's
// deadline runs out of time on the first instance, and then on the next.
func (c *Client) send(ctx context.Context, inst registry.Instance, name string, body []byte, resp any, shortened bool) error {
	if !shortened {
		return c.do(ctx, inst, name, body, resp)
	}
	deadline, _ := ctx.Deadline() // callContext gave every call one
	limit := max(time.Until(deadline)/2, minAttemptTimeout)
	attempt, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := c.do(attempt, inst, name, body, resp)
	if err != nil && ctx.Err() == nil && errors.Is(attempt.Err(), context.DeadlineExceeded) {
		// The attempt's time is up, not the call's.
		return &Error{
			Code:    Timeout,
			Message: fmt.Sprintf("%s at %s gave no answer within %v", inst.ID, inst.Endpoint, limit.Round(time.Millisecond)),
			cause:   context.DeadlineExceeded,
		}
	}
	return err
}

// do sends the request to inst and reads the answer into resp, or returns
// the error it holds.
func (c *Client) do(ctx context.Context, inst registry.Instance, name string, body []byte, resp any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+inst.Endpoint+rpcPath+name, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(traceHeader, TraceID(ctx))
	req.Header.Set(serviceHeader, inst.Service)
	if deadline, ok := ctx.Deadline(); ok {
		// In milliseconds: fine enough, and plain ASCII for every peer
		// (Go writes a duration under a millisecond in µs).
		req.Header.Set(timeoutHeader, time.Until(deadline).Round(time.Millisecond).String())
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	// Whoever listens at the endpoint now may be another service than the
	// record says: the record is stale, and its port taken by someone else.
	// Its answer, even a NotFound, says nothing about our call. (An answer
	// without the header comes from an older hive, and is taken.)
	if got := res.Header.Get(serviceHeader); got != "" && got != inst.Service {
		return Errorf(Unavailable, "%s answered for service %s instead: the record of %s is stale", inst.Endpoint, got, inst.ID)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, c.maxResp+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > c.maxResp {
		return Errorf(Internal, "the response is larger than the client's limit of %d bytes (ClientOptions.MaxResponseBytes)", c.maxResp)
	}
	if res.StatusCode != http.StatusOK {
		e := errorEnvelope(res.StatusCode, data)
		e.Message = clip.Text(e.Message, maxErrorMessage)
		return e
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return &Error{Code: Internal, Message: fmt.Sprintf("the response is not valid JSON for %s: %v", typeName(resp), err)}
	}
	return nil
}

// retryable says whether a failed attempt may be tried on another instance.
func retryable(err error, idempotent bool) bool {
	var e *Error
	if errors.As(err, &e) {
		// Unavailable promises that nothing was done. After a timeout,
		// the work may be done, or half done.
		return e.Code == Unavailable || e.Code == Timeout && idempotent
	}
	if neverSent(err) {
		return true
	}
	// The request may have been handled before the connection broke.
	return idempotent
}

// neverSent reports whether err means that the request never reached an
// instance: nobody listened at its address.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// down reports whether a failed attempt speaks against the instance: no
// answer came (it is dead, frozen or swamped), or it answered Unavailable or
// Timeout. An answer such as NotFound speaks against the request, and a
// call that its caller canceled against nobody.
func down(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Code == Unavailable || e.Code == Timeout
	}
	return err != nil && !errors.Is(err, context.Canceled)
}

// fail turns the last failure of a call into the *Error the caller gets.
func (c *Client) fail(ctx context.Context, method string, err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		// A copy, so that setting Method below changes no error that
		// someone else holds.
		e = &Error{Code: e.Code, Message: e.Message, cause: e.cause}
		if e.Code == Timeout && e.cause == nil {
			// The callee ran out of the time the caller gave it: the
			// caller's deadline, exceeded on the other side.
			e.cause = context.DeadlineExceeded
		}
	case errors.Is(ctx.Err(), context.Canceled):
		e = &Error{Code: Unavailable, Message: "the call was canceled", cause: ctx.Err()}
	case ctx.Err() != nil:
		e = &Error{Code: Timeout, Message: "no answer before the deadline", cause: ctx.Err()}
		if deadline, ok := ctx.Deadline(); ok {
			e.Message = fmt.Sprintf("no answer before the deadline (%s ago)", time.Since(deadline).Round(time.Millisecond))
		}
	default:
		e = &Error{Code: Unavailable, Message: err.Error(), cause: err}
	}
	e.Method = method
	return e
}

// A watch keeps the instances of one service up to date.
type watch struct {
	ready   chan struct{} // closed when the first list arrived
	mu      sync.Mutex
	list    []registry.Instance // the records a call can use
	skipped []string            // why each other record was skipped
}

// instances returns the live instances of service, from the cache; the
// first call for a service starts watching it and waits for its first list.
func (c *Client) instances(ctx context.Context, service string) ([]registry.Instance, error) {
	c.mu.Lock()
	w, ok := c.watches[service]
	if !ok {
		updates, err := c.registry.Watch(c.ctx, service)
		if err != nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("cannot look up service %s: %w", service, err)
		}
		w = &watch{ready: make(chan struct{})}
		c.watches[service] = w
		go c.follow(service, w, updates)
	}
	c.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	w.mu.Lock()
	list, skipped := slices.Clone(w.list), w.skipped
	w.mu.Unlock()
	switch {
	case len(list) > 0:
		return list, nil
	case len(skipped) == 1:
		return nil, Errorf(Unavailable, "no instance of service %s is running (1 record skipped: %s)", service, skipped[0])
	case len(skipped) > 1:
		return nil, Errorf(Unavailable, "no instance of service %s is running (%d records skipped: %s)", service, len(skipped), strings.Join(skipped, "; "))
	}
	return nil, Errorf(Unavailable, "no instance of service %s is running", service)
}

// follow copies each new list from the registry into w, until the registry
// stops sending; then it forgets w, so that the next call watches afresh.
func (c *Client) follow(service string, w *watch, updates <-chan []registry.Instance) {
	first := true
	logged := make(map[string]bool) // the reasons to skip a record already logged
	for list := range updates {
		valid, skipped := usable(service, list)
		for _, why := range skipped {
			if !logged[why] {
				logged[why] = true
				c.logger.Warn("skipping a registry record no call can use", "service", service, "error", why)
			}
		}
		if sk, ok := c.registry.(registry.Skipper); ok {
			// The records it left out (and logged) itself count too.
			skipped = append(sk.Skipped(service), skipped...)
		}
		w.mu.Lock()
		w.list, w.skipped = valid, skipped
		w.mu.Unlock()
		if first {
			close(w.ready)
			first = false
		}
	}
	c.mu.Lock()
	if c.watches[service] == w {
		delete(c.watches, service)
	}
	c.mu.Unlock()
	if first {
		close(w.ready) // wake up waiting calls; they find no instances
	}
}

// usable returns the records in list that a call to service can use, and
// why it skipped each of the others. Anyone may write into a registry, by
// mistake or by a bug: a record may be empty, or name no host:port, or
// another service than the one it is listed under.
func usable(service string, list []registry.Instance) (valid []registry.Instance, skipped []string) {
	for _, inst := range list {
		err := inst.Validate()
		if err == nil {
			err = inst.CheckListed(service, "")
		}
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		valid = append(valid, inst)
	}
	return valid, skipped
}
