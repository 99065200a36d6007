// Package slides holds the workshop's talk, workshop.slide, in the format
// of Go's present tool (golang.org/x/tools/present), and its tests.
//
// Serve the talk from the repository's top folder with
//
//	make slides
//
// and open http://127.0.0.1:3999/workshop.slide (press N for the presenter
// notes). README.md in this folder has the talk's parts and the rules for
// new slides; make test-slides checks them. Code on the slides is included
// from the step folders (before the recap), solutions/ (in the recap) and
// hive/ by address, never copied, so a slide cannot drift from the code:
// when a function it shows is renamed or removed, `go test ./slides/...`
// fails and names the slide's file and line.
package slides
