package main

import (
	"context"
	// BEGIN SOLUTION
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
	// END SOLUTION

	"github.com/hive-workshop/microservices-go/hive"
)

// GreetRequest is what a caller sends to greeter.greet, as JSON:
//
//	{"name": "Ada", "language": "nl"}
type GreetRequest struct {
	Name     string `json:"name"`
	Language string `json:"language"` // "en", "nl" or "fr"; empty means "en"
}

// GreetReply is what greeter.greet answers, as JSON:
//
//	{"greeting": "Hallo, Ada!"}
type GreetReply struct {
	Greeting string `json:"greeting"`
}

// greetings holds a greeting for each language the greeter speaks; %s is
// where the name goes. Nothing changes the map after the program starts,
// so many calls can read it at the same time without a lock.
var greetings = map[string]string{
	"en": "Hello, %s!",
	"nl": "Hallo, %s!",
	"fr": "Bonjour, %s !", // French puts a space before "!"
}

// New returns the greeter service, ready for env.Run (in main) or for a
// test to start.
func New() *hive.Service {
	svc := hive.New("greeter")
	// Callers reach greet as "greeter.greet", or with
	// curl as POST /rpc/greet. hive decodes the JSON body
	// into a GreetRequest and encodes the GreetReply that
	// greet returns.
	hive.Handle(svc, "greet", greet)
	return svc
}

// maxName is the longest name greet takes, in letters: a greeting is no
// place for a novel.
const maxName = 50

// greet answers greeter.greet.
func greet(ctx context.Context, req GreetRequest) (GreetReply, error) {
	// TODO(step01) Task 1: answer with the greeting
	// "Hello, <name>!".
	//
	// TODO(step01) Task 2: fail with
	// hive.Errorf(hive.BadRequest, ...) when the name is
	// empty or only spaces.
	//
	// TODO(step01) Task 3: greet in req.Language, with the
	// greetings map ("" means "en"); fail with
	// hive.NotFound for a language it lacks.
	//
	// TODO(step01) Going further: once the three tasks
	// pass, refuse a name longer than maxName letters with
	// hive.BadRequest. Letters, not bytes.
	// BEGIN SOLUTION
	// len counts bytes, and "ë" is two of them in UTF-8: a name of 50
	// letters may be 100 bytes long. utf8 counts the runes, the letters.
	if n := utf8.RuneCountInString(strings.TrimSpace(req.Name)); n > maxName {
		return GreetReply{}, hive.Errorf(hive.BadRequest, "the name has %d letters; send one of at most %d", n, maxName)
	}
	// END SOLUTION
	// BEGIN SOLUTION (tasks 1, 2, 3)
	name := strings.TrimSpace(req.Name)
	if name == "" {
		// BadRequest says: the mistake is in the request, so sending it
		// again unchanged will not help. curl shows it as HTTP 400.
		return GreetReply{}, hive.Errorf(hive.BadRequest, `the name is empty; send one, as in {"name": "Ada"}`)
	}

	language := req.Language
	if language == "" {
		language = "en"
	}
	format, ok := greetings[language]
	if !ok {
		known := slices.Sorted(maps.Keys(greetings))
		return GreetReply{}, hive.Errorf(hive.NotFound, "I do not speak language %q; I know %s", language, strings.Join(known, ", "))
	}
	return GreetReply{Greeting: fmt.Sprintf(format, name)}, nil
	// STUB
	// return GreetReply{}, hive.Errorf(hive.Internal, "greet is not written yet: see TODO(step01) Task 1 in greeter/greeter.go")
	// END SOLUTION
}
