// Package slides holds the workshop's talk, workshop.slide, in the format
// of Go's present tool (golang.org/x/tools/present), and its test.
//
// Serve the talk from the repository's top folder with
//
//	make slides
//
// and open http://127.0.0.1:3999/workshop.slide (press N for the presenter
// notes). Code on the slides is included from solutions/ and hive/ by
// address, never copied, so a slide cannot drift from the code: when a
// function it shows is renamed or removed, `go test ./slides/...` fails and
// names the slide's file and line. The diagrams are drawn from the .dot
// files in diagrams/; see diagrams/Makefile.
package slides
