package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
)

// startGreeter starts the greeter on a network of its own, in this test
// process: no other program needs to run. It stops when the test ends.
func startGreeter(t *testing.T) *hivetest.Network {
	t.Helper()
	n := hivetest.NewNetwork(t)
	n.Start(New())
	return n
}

func TestTask1_GreetsByName(t *testing.T) {
	n := startGreeter(t)

	var reply GreetReply
	err := n.Call(context.Background(), "greeter.greet", GreetRequest{Name: "Ada"}, &reply)
	if err != nil {
		t.Fatalf("Task 1: greeter.greet with {\"name\": \"Ada\"} failed: %v\nReturn a GreetReply from greet in greeter/greeter.go, with a nil error.", err)
	}
	if want := "Hello, Ada!"; reply.Greeting != want {
		t.Fatalf("Task 1: greeter.greet with {\"name\": \"Ada\"} answered %q, want %q.\nPut the name into the Greeting of the GreetReply that greet returns.", reply.Greeting, want)
	}
}

// The same call as curl makes it: a POST with JSON, straight to the
// instance's address.
func TestTask1_AnswersCurl(t *testing.T) {
	svc := New()
	hivetest.NewNetwork(t).Start(svc)

	status, body := post(t, "http://"+svc.Endpoint()+"/rpc/greet", `{"name": "Ada"}`)
	if status != http.StatusOK || body != `{"greeting":"Hello, Ada!"}` {
		t.Fatalf("Task 1: curl -d '{\"name\": \"Ada\"}' .../rpc/greet would show HTTP %d and\n  %s\nwant HTTP 200 and\n  {\"greeting\":\"Hello, Ada!\"}", status, body)
	}
}

func TestTask2_EmptyNameIsBadRequest(t *testing.T) {
	n := startGreeter(t)

	for _, name := range []string{"", "   "} {
		var reply GreetReply
		err := n.Call(context.Background(), "greeter.greet", GreetRequest{Name: name}, &reply)
		if !errors.Is(err, hive.ErrBadRequest) {
			t.Errorf("Task 2: greeter.greet with the name %q must fail with hive.BadRequest, so that the caller knows the mistake is theirs; got %v (greeting %q).\nIn greet, return hive.Errorf(hive.BadRequest, \"...\") when the name is empty or only spaces (strings.TrimSpace helps).", name, errOrNil(err), reply.Greeting)
			continue
		}
		// The message is for the person who sent the request: it shows
		// them a request that works, so it names the field, in quotes.
		var e *hive.Error
		if errors.As(err, &e) && !strings.Contains(e.Message, `"name"`) {
			t.Errorf("Task 2: greeter.greet with the name %q failed with the message\n  %s\nwhich says what is wrong, but not what to send instead.\nShow the caller a request that works, with the field \"name\" in it (the test looks for \"name\", quotes included).", name, e.Message)
		}
	}
}

// curl sees the code as an HTTP status, and the error envelope as the body.
func TestTask2_CurlSeesStatus400(t *testing.T) {
	svc := New()
	hivetest.NewNetwork(t).Start(svc)

	status, body := post(t, "http://"+svc.Endpoint()+"/rpc/greet", `{"name": ""}`)
	if status != http.StatusBadRequest || !strings.Contains(body, `"code":"bad_request"`) {
		t.Fatalf("Task 2: curl -i -d '{\"name\": \"\"}' .../rpc/greet would show HTTP %d and\n  %s\nwant HTTP 400 and an error with \"code\":\"bad_request\". Return hive.Errorf(hive.BadRequest, ...) for an empty name.", status, body)
	}
}

func TestTask3_GreetsInTheirLanguage(t *testing.T) {
	n := startGreeter(t)

	tests := []struct {
		language string
		want     string
	}{
		{"", "Hello, Ada!"},
		{"en", "Hello, Ada!"},
		{"nl", "Hallo, Ada!"},
		{"fr", "Bonjour, Ada !"},
	}
	for _, tt := range tests {
		var reply GreetReply
		err := n.Call(context.Background(), "greeter.greet", GreetRequest{Name: "Ada", Language: tt.language}, &reply)
		switch {
		case err != nil:
			t.Errorf("Task 3: greeter.greet with {\"name\": \"Ada\", \"language\": %q} failed: %v; want %q.", tt.language, err, tt.want)
		case reply.Greeting != tt.want:
			t.Errorf("Task 3: greeter.greet with {\"name\": \"Ada\", \"language\": %q} answered %q, want %q.\nLook the language up in the greetings map, and use \"en\" when it is empty.", tt.language, reply.Greeting, tt.want)
		}
	}
}

func TestTask3_UnknownLanguageIsNotFound(t *testing.T) {
	n := startGreeter(t)

	var reply GreetReply
	err := n.Call(context.Background(), "greeter.greet", GreetRequest{Name: "Ada", Language: "tlh"}, &reply)
	if !errors.Is(err, hive.ErrNotFound) {
		t.Fatalf("Task 3: greeter.greet with the language \"tlh\" (Klingon) must fail with hive.NotFound; got %v (greeting %q).\nWhen the greetings map has no such language, return hive.Errorf(hive.NotFound, ...).", errOrNil(err), reply.Greeting)
	}
	words := strings.FieldsFunc(err.Error(), func(r rune) bool { return !unicode.IsLetter(r) })
	for _, language := range []string{"en", "fr", "nl"} {
		if !slices.Contains(words, language) {
			t.Fatalf("Task 3: the error for an unknown language must list the languages the greeter knows (en, fr, nl), so that the caller can pick one; got %q.\nslices.Sorted(maps.Keys(greetings)) lists them; strings.Join makes one string of them.", err.Error())
		}
	}
}

// Every hive service answers the built-in methods ping, status and
// inspect, without any code of its own.
func TestInspectShowsGreet(t *testing.T) {
	n := startGreeter(t)

	var got hive.Inspection
	if err := n.Call(context.Background(), "greeter.inspect", nil, &got); err != nil {
		t.Fatalf("greeter.inspect failed: %v", err)
	}
	for _, m := range got.Methods {
		if m.Name == "greet" {
			return
		}
	}
	t.Fatalf("greeter.inspect does not list the method greet: %+v", got.Methods)
}

// Going further: names have a limit, in letters. A letter such as "ë"
// takes two bytes in UTF-8, so a limit in bytes would refuse a name of 50
// such letters. make further runs it.
func TestFurther_LongNamesAreRefusedByTheLetter(t *testing.T) {
	n := startGreeter(t)

	long := strings.Repeat("ë", 50) // 50 letters, 100 bytes
	var reply GreetReply
	if err := n.Call(context.Background(), "greeter.greet", GreetRequest{Name: long}, &reply); err != nil {
		t.Fatalf("Going further: greeter.greet refused a name of 50 letters (100 bytes: \"ë\" takes two): %v\n"+
			"Do the three tasks first. Then count letters, not bytes: len(s) counts bytes; the unicode/utf8 package counts runes.", err)
	}
	tooLong := strings.Repeat("a", 51)
	err := n.Call(context.Background(), "greeter.greet", GreetRequest{Name: tooLong}, &reply)
	if !errors.Is(err, hive.ErrBadRequest) || !strings.Contains(err.Error(), "50") {
		t.Fatalf("Going further: greeter.greet with a name of 51 letters must fail with hive.BadRequest, and say that 50 is the most (maxName); got %v (greeting %q).\n"+
			"At the start of greet (greeter/greeter.go), refuse a name longer than maxName letters.", errOrNil(err), reply.Greeting)
	}
}

// post sends body to url as curl -d does, and returns the HTTP status and
// the response body.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("POST %s: read the answer: %v", url, err)
	}
	return res.StatusCode, strings.TrimSpace(string(data))
}

// errOrNil makes "no error" read as such in a failure message.
func errOrNil(err error) any {
	if err == nil {
		return "no error"
	}
	return err
}
