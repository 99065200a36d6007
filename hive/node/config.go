package node

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a beehive: which services to run, and how many of each. Load
// reads it from a hive.yml file:
//
//	# hive.yml: which services to run, and how many of each.
//	env:                     # added to every instance's environment
//	  HIVE_NAMESPACE: demo
//	services:
//	  menu:
//	    command: [go, run, ./step05-beehive/menu]   # or a built binary
//	    instances: 2                                # 1 if left out
//	    env: {MENU_DELAY: 50ms}
//	  kitchen:
//	    command: [./bin/kitchen]
//	    instances: {min: 1, max: 6, queue: order.placed} # by the work waiting
//
// Commands run in the current directory, like commands typed in a shell.
type Config struct {
	Env      map[string]string // for every instance
	Services []Service         // in the order of the file
}

// Service is one service of a beehive.
type Service struct {
	Name      string
	Command   []string          // the program and its arguments
	Instances int               // how many copies run at once (at the start, if Scale is set); at least 1
	Env       map[string]string // for this service's instances, over Config.Env
	Scale     *Scale            // nil: Instances is a fixed count
}

// Scale says how the number of a service's instances follows its work:
// hive.yml's `instances: {min: 1, max: 6, queue: order.placed}`. The
// service starts with Min instances.
type Scale struct {
	Min, Max int // the fewest and the most instances; 1 <= Min <= Max

	// What drives the count: at most one of Queue and InFlight. Neither:
	// only `hive scale` changes it.
	//
	// Queue names the event handler (its Subscription.Name, which is the
	// event pattern for hive.On) whose shared queue's backlog drives the
	// count; PerBee is how many waiting events one instance may have
	// before another one comes (DefaultPerBee if 0).
	//
	// InFlight, for a service that answers calls, is how many calls one
	// instance may be answering at once (its status built-in's in_flight)
	// before another one comes.
	Queue    string
	PerBee   int
	InFlight int

	// CoolDown is how long the count stays after a change, and how long
	// the work must stay low, before an instance is put to sleep;
	// DefaultCoolDown if 0.
	CoolDown time.Duration
}

// The defaults of Scale.
const (
	DefaultPerBee   = 10
	DefaultCoolDown = 30 * time.Second
)

// Load reads a hive.yml file. Its errors name the file, the line and the
// key that is wrong, so that the fix is obvious.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err // it names the file already
	}
	return Parse(path, data)
}

// Parse reads the contents of a hive.yml file; name is used in errors.
//
// It walks the YAML tree by hand instead of decoding into structs, to say
// exactly which key is wrong and what would be right.
func Parse(name string, data []byte) (Config, error) {
	f := file{name: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(doc.Content) == 0 {
		return Config{}, fmt.Errorf("%s: the file is empty; it needs a services: section", name)
	}
	top, err := f.mapping(doc.Content[0], "top level", "env", "services")
	if err != nil {
		return Config{}, err
	}

	var cfg Config
	if n, ok := top.get("env"); ok {
		if cfg.Env, err = f.env(n, "env"); err != nil {
			return Config{}, err
		}
	}
	n, ok := top.get("services")
	if !ok {
		return Config{}, f.errorf(doc.Content[0], "services: missing; name at least one service, with its command")
	}
	services, err := f.mapping(n, "services")
	if err != nil {
		return Config{}, err
	}
	if len(services) == 0 {
		return Config{}, f.errorf(n, "services: none given; name at least one, with its command")
	}
	for _, kv := range services {
		svc, err := f.service(kv.key, kv.value)
		if err != nil {
			return Config{}, err
		}
		cfg.Services = append(cfg.Services, svc)
	}
	return cfg, nil
}

// file reads one hive.yml; it knows the file's name for error messages.
type file struct{ name string }

func (f file) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", f.name, n.Line, fmt.Sprintf(format, args...))
}

func (f file) service(key, n *yaml.Node) (Service, error) {
	where := "services." + key.Value
	fields, err := f.mapping(n, where, "command", "instances", "env")
	if err != nil {
		return Service{}, err
	}
	svc := Service{Name: key.Value, Instances: 1}

	cmd, ok := fields.get("command")
	if !ok {
		return Service{}, f.errorf(key, "%s: command is missing; for example command: [go, run, ./menu]", where)
	}
	if cmd.Kind != yaml.SequenceNode || len(cmd.Content) == 0 {
		return Service{}, f.errorf(cmd, "%s.command: want a list of words, such as [go, run, ./menu]", where)
	}
	for _, word := range cmd.Content {
		if word.Kind != yaml.ScalarNode {
			return Service{}, f.errorf(word, "%s.command: every word must be a plain string", where)
		}
		svc.Command = append(svc.Command, word.Value)
	}

	if n, ok := fields.get("instances"); ok && n.Kind == yaml.MappingNode {
		if svc.Scale, err = f.scale(n, where+".instances"); err != nil {
			return Service{}, err
		}
		svc.Instances = svc.Scale.Min
	} else if ok {
		count, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil || count < 1 {
			return Service{}, f.errorf(n, "%s.instances: want a whole number of at least 1 (or {min: 1, max: 4}), not %q", where, n.Value)
		}
		svc.Instances = count
	}

	if n, ok := fields.get("env"); ok {
		if svc.Env, err = f.env(n, where+".env"); err != nil {
			return Service{}, err
		}
	}
	return svc, nil
}

// scale reads `instances: {min: 1, max: 4, queue: order.placed}`.
func (f file) scale(n *yaml.Node, where string) (*Scale, error) {
	fields, err := f.mapping(n, where, "min", "max", "queue", "per_bee", "in_flight", "cool_down")
	if err != nil {
		return nil, err
	}
	sc := &Scale{PerBee: DefaultPerBee, CoolDown: DefaultCoolDown}
	for _, field := range []struct {
		key string
		to  *int
	}{{"min", &sc.Min}, {"max", &sc.Max}, {"per_bee", &sc.PerBee}, {"in_flight", &sc.InFlight}} {
		v, ok := fields.get(field.key)
		if !ok {
			if field.key == "per_bee" || field.key == "in_flight" {
				continue
			}
			return nil, f.errorf(n, "%s: %s is missing; for example {min: 1, max: 4}", where, field.key)
		}
		count, err := strconv.Atoi(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || count < 1 {
			return nil, f.errorf(v, "%s.%s: want a whole number of at least 1, not %q", where, field.key, v.Value)
		}
		*field.to = count
	}
	if sc.Max < sc.Min {
		return nil, f.errorf(n, "%s: max (%d) is less than min (%d)", where, sc.Max, sc.Min)
	}
	if v, ok := fields.get("queue"); ok {
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			return nil, f.errorf(v, "%s.queue: want the name of an event handler, such as order.placed", where)
		}
		sc.Queue = v.Value
	}
	_, perBee := fields.get("per_bee")
	switch {
	case sc.Queue != "" && sc.InFlight > 0:
		return nil, f.errorf(n, "%s: queue and in_flight both given; a service scales by one of them", where)
	case perBee && sc.Queue == "":
		return nil, f.errorf(n, "%s: per_bee is the events waiting a bee in the queue: it needs queue", where)
	}
	if v, ok := fields.get("cool_down"); ok {
		d, err := time.ParseDuration(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || d <= 0 {
			return nil, f.errorf(v, "%s.cool_down: want a duration such as 30s, not %q", where, v.Value)
		}
		sc.CoolDown = d
	}
	return sc, nil
}

// env reads a mapping of environment variables. Values are taken as
// written, so that 8080 and true stay the strings a program expects.
func (f file) env(n *yaml.Node, where string) (map[string]string, error) {
	pairs, err := f.mapping(n, where)
	if err != nil {
		return nil, err
	}
	env := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		if kv.value.Kind != yaml.ScalarNode {
			return nil, f.errorf(kv.value, "%s.%s: want a plain value, such as 50ms or demo", where, kv.key.Value)
		}
		env[kv.key.Value] = kv.value.Value
	}
	return env, nil
}

// A pair is one key and its value in a YAML mapping.
type pair struct{ key, value *yaml.Node }

type pairs []pair

func (ps pairs) get(key string) (*yaml.Node, bool) {
	for _, p := range ps {
		if p.key.Value == key {
			return p.value, true
		}
	}
	return nil, false
}

// mapping returns the pairs of the mapping n, in the file's order. It
// rejects keys that appear twice and, if allowed is given, keys not in it:
// a misspelt key would otherwise be ignored without a word.
func (f file) mapping(n *yaml.Node, where string, allowed ...string) (pairs, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil // "env:" with nothing after it
	}
	if n.Kind != yaml.MappingNode {
		return nil, f.errorf(n, "%s: want keys and values (key: value), not %q", where, n.Value)
	}
	var ps pairs
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if allowed != nil && !slices.Contains(allowed, key.Value) {
			return nil, f.errorf(key, "%s: unknown key %q; the keys are %s", where, key.Value, strings.Join(allowed, ", "))
		}
		if _, dup := ps.get(key.Value); dup {
			return nil, f.errorf(key, "%s: key %q appears twice", where, key.Value)
		}
		ps = append(ps, pair{key, value})
	}
	return ps, nil
}
