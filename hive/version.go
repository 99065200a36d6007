package hive

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hive-workshop/microservices-go/hive/registry"
)

type versionKey struct{}

// WithVersion returns a context whose calls go only to instances whose
// version is in rng, such as "^1" (any 1.x.y): during a rolling deploy
// that changes a method's answer, a caller that reads the old answer pins
// the old major version. See registry.Range for the syntax. It overrides
// the client's ClientOptions.Version; "" asks for any instance, with or
// without a version.
func WithVersion(ctx context.Context, rng string) context.Context {
	return context.WithValue(ctx, versionKey{}, rng)
}

// versionRange returns the range the call with ctx asks for: WithVersion's,
// or else the client's.
func (c *Client) versionRange(ctx context.Context) (registry.Range, error) {
	rng, ok := ctx.Value(versionKey{}).(string)
	if !ok {
		rng = c.version
	}
	return registry.ParseRange(rng)
}

// inRange returns the instances whose version is in rng, or an Unavailable
// error that names the versions that run.
func inRange(service string, rng registry.Range, instances []registry.Instance) ([]registry.Instance, error) {
	if rng.Any() {
		return instances, nil
	}
	matching := slices.DeleteFunc(slices.Clone(instances), func(inst registry.Instance) bool { return !rng.Match(inst.Version) })
	if len(matching) > 0 {
		return matching, nil
	}
	count := make(map[string]int)
	for _, inst := range instances {
		v := inst.Version
		if v == "" {
			v = "no version"
		}
		count[v]++
	}
	var running []string
	for _, v := range slices.Sorted(maps.Keys(count)) {
		running = append(running, fmt.Sprintf("%s (%d)", v, count[v]))
	}
	return nil, Errorf(Unavailable, "no instance of service %s runs a version in %s: %d run, of version %s",
		service, rng, len(instances), strings.Join(running, ", "))
}
