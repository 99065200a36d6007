// Package registry is how hive instances find each other: service discovery.
//
// An instance registers itself when it starts and deregisters when it stops.
// A caller looks up, or better watches, the instances of the service it wants
// to call. Three implementations share the Registry interface:
// registry/zookeeper for real deployments, registry/memory for tests and
// single-process demos, and registry/static for fixed addresses.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Instance describes one running copy of a service. It is what the registry
// stores, as JSON, for every live instance.
type Instance struct {
	ID       string    `json:"id"`                // unique per process, e.g. "menu-3f9a1c"
	Service  string    `json:"service"`           // the service's name, e.g. "menu"
	Endpoint string    `json:"endpoint"`          // host:port where its RPC server listens
	Version  string    `json:"version,omitempty"` // semver ("1.4.0") for callers to ask for, or a label that no Range matches; see version.go
	Host     string    `json:"host,omitempty"`    // the machine's host name
	PID      int       `json:"pid,omitempty"`     // the process id
	Started  time.Time `json:"started"`           // when the instance started

	// Idempotent lists the methods that are safe to call twice, so a client
	// may retry them on another instance after a failure.
	Idempotent []string `json:"idempotent,omitempty"`
}

// Validate reports whether inst is a record a client can call: it needs a
// service name, an ID and an endpoint of the form host:port, with a host
// and a port from 1 to 65535, and nothing else: no scheme, no path; and as
// JSON it must fit in MaxRecordBytes. Every
// registry validates what it registers; a client validates what it reads
// too, since anyone may write into a registry.
func (inst Instance) Validate() error {
	if inst.ID == "" && inst.Service == "" && inst.Endpoint == "" {
		return errors.New("registry: an empty record (null or {}): no service, ID or endpoint")
	}
	if err := checkName(inst.Service); err != nil {
		return fmt.Errorf("registry: instance %q: service name: %w", inst.ID, err)
	}
	if err := checkName(inst.ID); err != nil {
		return fmt.Errorf("registry: instance of service %q: ID: %w", inst.Service, err)
	}
	if err := checkEndpoint(inst.Endpoint); err != nil {
		return fmt.Errorf("registry: instance %q: endpoint %q: %w", inst.ID, inst.Endpoint, err)
	}
	if err := CheckVersion(inst.Version); err != nil {
		return fmt.Errorf("registry: instance %q: version %w", inst.ID, err)
	}
	if data, err := json.Marshal(inst); err == nil && len(data) > MaxRecordBytes {
		return TooLarge(inst.Service, inst.ID, len(data)) // no caller would read it
	}
	return nil
}

// checkName rejects names that cannot be an element of a ZooKeeper path.
// Every registry applies the rule, so a name that works in a test with the
// in-memory registry works in production too.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case name == "." || name == ".." || strings.Contains(name, "/"):
		return fmt.Errorf("%q is not allowed: it may not contain \"/\" or be \".\" or \"..\"", name)
	}
	return nil
}

// checkEndpoint rejects an endpoint that is not a plain host:port. Clients
// call "http://" + endpoint + "/rpc/<method>", so a scheme or a path in the
// endpoint would send calls somewhere else than the instance meant.
func checkEndpoint(endpoint string) error {
	switch {
	case endpoint == "":
		return errors.New("empty: it must be host:port")
	case strings.Contains(endpoint, "://"):
		return errors.New("has a scheme: write host:port only, for example 127.0.0.1:8002")
	case strings.ContainsAny(endpoint, "/?#"):
		return errors.New("has a path: write host:port only, for example 127.0.0.1:8002")
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return errors.New("is not host:port")
	}
	if host == "" {
		return errors.New("has no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	// What a URL would make of it, for the characters that remain, such as
	// the @ of user@host:port.
	if u, err := url.Parse("http://" + endpoint); err != nil || u.Host != endpoint {
		return errors.New("is not host:port")
	}
	return nil
}

// Registry registers instances and tells who is alive.
//
// Implementations are safe for concurrent use.
type Registry interface {
	// Register announces inst until Deregister is called or the process
	// dies. Registering the same ID again replaces the earlier record.
	Register(ctx context.Context, inst Instance) error

	// Deregister removes inst. Removing an instance that is not registered
	// is not an error.
	Deregister(ctx context.Context, inst Instance) error

	// Services returns the names of all services with at least one
	// instance, sorted.
	Services(ctx context.Context) ([]string, error)

	// Instances returns the live instances of service, sorted by ID. A
	// service with no instances gives an empty list, not an error.
	Instances(ctx context.Context, service string) ([]Instance, error)

	// Watch sends the full list of service's instances (sorted by ID) at
	// once and again after every change, until ctx ends; then it closes the
	// channel. A slow reader only ever misses intermediate lists, never
	// the latest one.
	Watch(ctx context.Context, service string) (<-chan []Instance, error)

	// Close releases the registry's connections. Instances registered
	// through it disappear.
	Close() error
}

// ErrClosed is returned by a Registry that has been closed.
var ErrClosed = errors.New("registry: closed")

// MaxRecordBytes is the size of the largest record a caller reads. A
// record is a few hundred bytes; a node that holds more is not one, and a
// caller skips it without reading it (see TooLarge), so that junk in the
// registry cannot fill a caller's memory.
const MaxRecordBytes = 64 << 10

// TooLarge returns the error that says why a caller skips the node named
// node, listed under service, whose data is size bytes long: over
// MaxRecordBytes.
func TooLarge(service, node string, size int) error {
	return fmt.Errorf("registry: %s/%s: %d bytes, over the limit of %d for a record", service, node, size, MaxRecordBytes)
}

// Decode reads a record as a caller must (PROTOCOL.md, "A record a caller
// cannot use"): the data of the node named node, listed under service. It
// is a record only if it is a JSON object with the required fields of the
// right types, if Validate takes it, and if it is listed where it belongs:
// its service is the service it is listed under, and its id the node's
// name. A caller never calls a record that Decode refuses; the error says
// why, for the log.
func Decode(service, node string, data []byte) (Instance, error) {
	if len(data) > MaxRecordBytes {
		return Instance{}, TooLarge(service, node, len(data))
	}
	var required struct {
		Started *json.RawMessage `json:"started"` // the others: Validate
	}
	var inst Instance
	if err := json.Unmarshal(data, &inst); err != nil {
		return Instance{}, fmt.Errorf("registry: node %s/%s: not a record: %w", service, node, err)
	}
	if err := inst.Validate(); err != nil {
		return Instance{}, err
	}
	if err := inst.CheckListed(service, node); err != nil {
		return Instance{}, err
	}
	if err := json.Unmarshal(data, &required); err != nil || required.Started == nil {
		return Instance{}, fmt.Errorf("registry: instance %q: no started time", inst.ID)
	}
	return inst, nil
}

// CheckListed reports whether inst may be listed under service, in the
// node named node ("" if the registry has no nodes): its service must be
// service, and its ID the node's name. A record listed elsewhere is a
// mistake or a stale copy, and a caller that followed it would call
// another service than it meant.
func (inst Instance) CheckListed(service, node string) error {
	switch {
	case inst.Service != service:
		return fmt.Errorf("registry: instance %q of service %q is listed under %q", inst.ID, inst.Service, service)
	case node != "" && inst.ID != node:
		return fmt.Errorf("registry: instance %q of service %q is in the node %q, which is not its id", inst.ID, inst.Service, node)
	}
	return nil
}

// A Skipper is a Registry that leaves out the records it reads that no
// caller can use (see Decode), and tells why. Its lists hold only usable
// records; Skipped adds what a caller should know when a service seems to
// have fewer instances than expected.
type Skipper interface {
	// Skipped returns why each record of service that the latest read
	// left out was left out, sorted.
	Skipped(service string) []string
}
