package main

import (
	"context"
	// BEGIN SOLUTION
	"fmt"
	"maps"
	"slices"
	"strings"
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
	// Callers reach greet as "greeter.greet", or with curl as
	// POST /rpc/greet. hive decodes the JSON body into a GreetRequest and
	// encodes the GreetReply that greet returns.
	hive.Handle(svc, "greet", greet)
	// TODO(step01) Going further: add a method "languages" that answers
	// the languages greet speaks, sorted: {"languages": ["en", "fr", "nl"]}.
	// BEGIN SOLUTION
	hive.Handle(svc, "languages", languages)
	// END SOLUTION
	return svc
}

// BEGIN SOLUTION
// LanguagesReply is what greeter.languages answers, as JSON:
//
//	{"languages": ["en", "fr", "nl"]}
type LanguagesReply struct {
	Languages []string `json:"languages"`
}

// languages answers greeter.languages, so that a caller can ask which
// languages there are before it picks one. It needs no request: struct{}
// takes the empty JSON object, {}, and a call without a body.
func languages(ctx context.Context, _ struct{}) (LanguagesReply, error) {
	// Sorted, because a map's order changes from run to run, and an answer
	// that changes for nothing is hard to test and to read.
	return LanguagesReply{Languages: slices.Sorted(maps.Keys(greetings))}, nil
}

// END SOLUTION

// greet answers greeter.greet.
func greet(ctx context.Context, req GreetRequest) (GreetReply, error) {
	// TODO(step01) Task 1: answer with the greeting "Hello, <name>!".
	//
	// TODO(step01) Task 2: fail with hive.Errorf(hive.BadRequest, ...) when
	// the name is empty or only spaces.
	//
	// TODO(step01) Task 3: greet in req.Language, with the greetings map
	// ("" means "en"); fail with hive.NotFound for a language it lacks.
	// BEGIN SOLUTION
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
