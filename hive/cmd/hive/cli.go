package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/env"
	"github.com/hive-workshop/microservices-go/hive/events"
	"github.com/hive-workshop/microservices-go/hive/registry"
)

// A command is one of hive's commands. Each has a file of its own.
type command struct {
	name    string
	aliases []string
	args    string // the arguments after the flags, for the usage line
	summary string // one line, for "hive help"
	about   string // more, for "hive COMMAND -h"
	example string

	// run declares its flags on fs, parses args with them (see parse), and
	// does its work.
	run func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error
}

// flags returns an empty flag set whose usage message explains cmd.
func (cmd *command) flags(w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hive "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: %s\n\n%s\n", strings.TrimSpace("hive "+cmd.name+" [flags] "+cmd.args), cmd.about)
		if len(cmd.aliases) > 0 {
			fmt.Fprintf(w, "\nAlso: hive %s\n", strings.Join(cmd.aliases, ", hive "))
		}
		if hasFlags(fs) {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
		fmt.Fprintf(w, "\nExample:\n  %s\n", strings.ReplaceAll(cmd.example, "\n", "\n  "))
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// errFlags means that the flag package rejected the command line and has
// said why already.
var errFlags = errors.New("bad flags")

// A usageError is a mistake in the command line.
type usageError string

func (e usageError) Error() string { return string(e) }

// parse parses the flags in args and returns the arguments after them,
// which must be at least min and at most max.
func parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errFlags
	}
	// The flag package stops at the first argument: a flag after it would
	// be taken for an argument.
	for _, arg := range fs.Args() {
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if strings.HasPrefix(arg, "-") && fs.Lookup(name) != nil {
			return nil, usageError(fmt.Sprintf("flags go before the arguments: %s", arg))
		}
	}
	switch n := fs.NArg(); {
	case n < min:
		return nil, usageError("too few arguments")
	case n > max:
		return nil, usageError(fmt.Sprintf("too many arguments: %q", fs.Args()[max:]))
	}
	return fs.Args(), nil
}

// cli is what every command works with: the standard streams, and the
// configuration that the HIVE_* environment variables give. Commands connect
// through it to the registry and the event bus, just as env.Run does.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	settings       env.Settings
	logger         *slog.Logger
}

// registry connects to the registry. Close it when done.
func (c *cli) registry(ctx context.Context) (registry.Registry, error) {
	return c.settings.ConnectRegistry(ctx, c.logger)
}

// bus connects to the event bus. Close it when done.
func (c *cli) bus(ctx context.Context) (events.Bus, error) {
	return c.settings.ConnectBus(ctx, c.logger)
}

// client returns a client for calling services, and a function that closes
// it and its registry.
func (c *cli) client(ctx context.Context) (*hive.Client, func(), error) {
	reg, err := c.registry(ctx)
	if err != nil {
		return nil, nil, err
	}
	// Each command is a new client, so taking turns would always start with
	// the first instance; a random pick spreads repeated requests.
	client := hive.NewClient(reg, hive.ClientOptions{Logger: c.logger, Picker: hive.Random()})
	return client, func() { client.Close(); reg.Close() }, nil
}

// body returns the JSON of a request or an event: the argument if there is
// one, otherwise standard input, unless that is a terminal (nobody would
// know that hive waits for them to type). It returns nil for no body.
func (c *cli) body(args []string) (json.RawMessage, error) {
	var data []byte
	switch {
	case len(args) > 0:
		data = []byte(args[0])
	case !isTerminal(c.stdin):
		var err error
		if data, err = io.ReadAll(c.stdin); err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, nil
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v) // says what is wrong, and where
		return nil, usageError(fmt.Sprintf("the body is not valid JSON: %v: %s", err, data))
	}
	return data, nil
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	info, err := file.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// newID returns 16 random hex digits, like the ids hive makes.
func newID() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails: see crypto/rand.Read
	return hex.EncodeToString(b)
}
