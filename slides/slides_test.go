package slides

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/tools/present"
)

// What a slide may show, so that the back row can read it (see
// README.md in this folder):
const (
	// codeColumns is how many columns of code a slide shows, at the
	// 22px of style.html, without wrapping; a tab counts 4, as present
	// shows it. In Chromium with present's fonts 62 fit; 60 leaves room
	// for other fonts.
	codeColumns = 60
	// codeLines is the most lines one block of code may have.
	codeLines = 12
	// talkSlides is the most slides the talk may have, its title slide
	// included, before the recap and the appendix: a talk of about 20
	// minutes.
	talkSlides = 25
	// notesLines and notesColumns keep the presenter notes inside the
	// notes window's pane: present makes each line of notes a paragraph
	// of its own, 28 pixels high, and the pane shows 169 pixels (30% of
	// the notes window, 1000×700 with its title bar, less a scroll bar;
	// measured in Chromium with present's notes.css).
	notesLines   = 5
	notesColumns = 120
)

// The headings that end the talk: the recap, where solution code may be
// shown, and the appendix. A slide before the first of them shows no
// solution.
const (
	recapHeading    = "Recap"
	appendixHeading = "Appendix"
)

// markers are what the workshop's generator writes into solution files. A
// slide that shows one has included more than it meant to: narrow the
// address.
var markers = []string{"BEGIN SOLUTION", "END SOLUTION", "// STUB"}

// TestSlides checks every deck in this folder: that present can parse it,
// that every file it includes exists, that every address in a .code or
// .play command still finds its code, that each slide's content fits on
// it, that code is short and narrow enough to read from the back row,
// that no slide of the talk gives a solution away, that the talk is
// short, and that every slide has presenter notes that fit their pane.
func TestSlides(t *testing.T) {
	decks, err := filepath.Glob("*.slide")
	if err != nil {
		t.Fatal(err)
	}
	if len(decks) == 0 {
		t.Fatal("no .slide files in slides/")
	}
	for _, deck := range decks {
		t.Run(deck, func(t *testing.T) {
			for _, err := range checkDeck(deck, os.ReadFile) {
				t.Error(err)
			}
		})
	}
}

// TestARenameBreaksTheDeck renames, in a copy held in memory, a function
// that workshop.slide shows, and checks that the deck then fails with the
// slide's file and line. The real files are not touched.
func TestARenameBreaksTheDeck(t *testing.T) {
	const deck = "workshop.slide"
	src, err := os.ReadFile(deck)
	if err != nil {
		t.Fatal(err)
	}
	// The first command that shows a function by its name, as in
	// .code ../solutions/step01-hello/greeter/greeter.go /^func New\(\)/,/^}/
	funcAddr := regexp.MustCompile(`^\.code\s+(\S+)\s+/\^func (\w+)\\\(`)
	var file, name string
	line := 0
	for i, l := range strings.Split(string(src), "\n") {
		if m := funcAddr.FindStringSubmatch(l); m != nil {
			file, name, line = filepath.Join(filepath.Dir(deck), m[1]), m[2], i+1
			break
		}
	}
	if line == 0 {
		t.Fatalf("%s shows no function by name (.code FILE /^func NAME\\(/...); this test needs one to rename", deck)
	}

	renamed := func(path string) ([]byte, error) {
		data, err := os.ReadFile(path)
		if filepath.Clean(path) == filepath.Clean(file) {
			data = bytes.ReplaceAll(data, []byte("func "+name+"("), []byte("func "+name+"Renamed("))
		}
		return data, err
	}
	errs := checkDeck(deck, renamed)
	at := fmt.Sprintf("%s:%d:", deck, line)
	// Both this test's own check of the address and present.Parse must
	// name the slide's line.
	if !containsError(errs, at, "was it renamed or removed?") || !containsError(errs, at, "present cannot parse the deck") {
		t.Fatalf("renaming func %s in %s: want two errors at %s, one from the address check and one from present; got:\n%s",
			name, file, at, listErrors(errs))
	}
	t.Logf("renaming func %s in %s is caught:\n%s", name, file, listErrors(errs))
}

// TestBrokenFixture checks that checkDeck reports each kind of breakage in
// testdata/broken.slide with its file and line.
func TestBrokenFixture(t *testing.T) {
	deck := filepath.Join("testdata", "broken.slide")
	errs := checkDeck(deck, os.ReadFile)
	expectErrors(t, deck, errs, []expected{
		{6, "no match for /^func greet\\(/"},
		{12, "/^package/ matches only before"},
		{16, "missing.go"},
		{20, "missing.svg"},
		{21, "from the network"},
		{22, "outside the slides' folder"},
	})
	// present itself stops at the first broken address, and names it too.
	if !containsError(errs, deck+":6:", "present cannot parse the deck") {
		t.Errorf("want present's own parse error for %s:6; got %q", deck, errs)
	}
}

// TestCrowdedFixture checks what checkDeck finds in a deck that parses but
// would not look right: a line of code written into a slide that is too
// wide, code too long and too wide to read, a slide too full, solution
// markers, a slide without notes, notes longer than their pane, and a
// test's output quoted wrong.
func TestCrowdedFixture(t *testing.T) {
	deck := filepath.Join("testdata", "crowded.slide")
	expectErrors(t, deck, checkDeck(deck, os.ReadFile), []expected{
		{5, "wider than"},
		{11, "lines of code"},
		{11, "columns"},
		{9, "reaches about"},
		{17, "BEGIN SOLUTION"},
		{20, "no presenter notes"},
		{22, "notes have 7 lines"},
		{36, "no test of a step says"},
	})
}

// TestAnswersFixture checks that checkDeck refuses solution code before
// the recap: a solutions/ file, or a range of a file between BEGIN
// SOLUTION and END SOLUTION; after the recap heading, both are fine. It
// also holds the talk to talkSlides slides.
func TestAnswersFixture(t *testing.T) {
	deck := filepath.Join("testdata", "answers.slide")
	errs := checkDeck(deck, os.ReadFile)
	expectErrors(t, deck, errs, []expected{
		{6, "solution before the recap"},
		{13, "solution before the recap"},
		{161, "the talk has 27 slides"},
	})
	if len(errs) != 3 {
		t.Errorf("want exactly the three errors above; got:\n%s", listErrors(errs))
	}
}

// TestTheTalkEndsWithYourTurn checks that the talk hands over to the
// room: a "Your turn" slide, among the talk's last slides, with the
// commands to start with.
func TestTheTalkEndsWithYourTurn(t *testing.T) {
	src, err := os.ReadFile("workshop.slide")
	if err != nil {
		t.Fatal(err)
	}
	talk, _, _ := strings.Cut(string(src), "\n## "+recapHeading)
	_, turn, ok := strings.Cut(talk, "\n## Your turn\n")
	if !ok {
		t.Fatalf("workshop.slide has no \"## Your turn\" slide before its %s", recapHeading)
	}
	for _, want := range []string{"git clone https://github.com/", "make doctor", "make up", "cd step01-hello && make test", "make hint"} {
		if !strings.Contains(turn, want) {
			t.Errorf("the Your turn slide does not say %q", want)
		}
	}
	// present drops links from the title slide: the repository's address
	// must be there as text.
	title, _, _ := strings.Cut(string(src), "\n## ")
	repo := regexp.MustCompile(`git clone https://(\S+)`).FindStringSubmatch(turn)
	if repo == nil || !strings.Contains(title, repo[1]) {
		t.Errorf("the title slide does not show the repository's address (%v) as text", repo)
	}
}

// TestWrappedRows checks how many rows a long line of included code takes
// once style.html wraps it.
func TestWrappedRows(t *testing.T) {
	long := strings.Repeat("x", codeColumns)
	tests := []struct {
		line string
		want int
	}{
		{"", 1},
		{long, 1},
		{long + "x", 2},
		{"\t\t" + long, 2}, // the 8 columns too many fit on the second row
		{long + strings.Repeat("y", codeColumns-4), 2}, // the second row starts at column 4
		{long + strings.Repeat("y", codeColumns-3), 3},
	}
	for _, tt := range tests {
		if got := wrappedRows(tt.line); got != tt.want {
			t.Errorf("wrappedRows of a line of %d columns = %d, want %d", columns(tt.line), got, tt.want)
		}
	}
}

// TestEveryDiagramIsDrawn checks that every diagrams/NAME.dot has its
// NAME.svg, which the slides show, so that `make slides` needs no Graphviz.
func TestEveryDiagramIsDrawn(t *testing.T) {
	dots, err := filepath.Glob(filepath.Join("diagrams", "*.dot"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dots) == 0 {
		t.Fatal("no diagrams/*.dot")
	}
	for _, dot := range dots {
		svg := strings.TrimSuffix(dot, ".dot") + ".svg"
		if _, err := os.Stat(svg); err != nil {
			t.Errorf("%s has no %s: run `make -C slides/diagrams` (needs Graphviz) and commit the .svg", dot, svg)
		}
	}
}

type expected struct {
	line int
	text string
}

// expectErrors fails t unless, for each expectation, some error starts
// with deck:line: and contains its text.
func expectErrors(t *testing.T, deck string, errs []error, want []expected) {
	t.Helper()
	for _, w := range want {
		if !containsError(errs, fmt.Sprintf("%s:%d:", deck, w.line), w.text) {
			t.Errorf("want an error at %s:%d containing %q; got:\n%s", deck, w.line, w.text, listErrors(errs))
		}
	}
}

func containsError(errs []error, prefix, text string) bool {
	for _, err := range errs {
		if strings.HasPrefix(err.Error(), prefix) && strings.Contains(err.Error(), text) {
			return true
		}
	}
	return false
}

func listErrors(errs []error) string {
	var b strings.Builder
	for _, err := range errs {
		fmt.Fprintf(&b, "  %v\n", err)
	}
	return b.String()
}

// checkDeck checks the deck at path, reading it and the files it includes
// with readFile, and returns what is wrong, each error starting with the
// deck's path and line.
func checkDeck(path string, readFile func(string) ([]byte, error)) []error {
	src, err := readFile(path)
	if err != nil {
		return []error{err}
	}
	lines := strings.Split(string(src), "\n")

	// First every command on its own, so that all broken includes show up
	// at once; present.Parse stops at the first.
	var errs []error
	for i, line := range lines {
		if err := checkCommand(path, line, readFile); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", path, i+1, err))
		}
	}

	ctx := present.Context{ReadFile: readFile}
	doc, err := ctx.Parse(bytes.NewReader(src), path, 0)
	if err != nil {
		// present's errors start with path:line: already.
		return append(errs, fmt.Errorf("%w (present cannot parse the deck)", err))
	}
	errs = append(errs, checkSlides(path, lines, doc, readFile)...)
	errs = append(errs, checkStory(path, lines, doc, readFile)...)
	return append(errs, checkQuotedTasks(path, lines, readFile)...)
}

// A command's arguments, as present reads them.
var (
	highlightRE = regexp.MustCompile(`\s+HL([a-zA-Z0-9_]+)?$`)
	codeRE      = regexp.MustCompile(`^\.(code|play)\s+((?:(?:-edit|-numbers)\s+)*)([^\s]+)(?:\s+(.*))?$`)
)

// checkCommand checks one line of a deck: if it is a command that names a
// file, that the file exists, and for .code and .play that the address
// finds its code.
func checkCommand(deck, line string, readFile func(string) ([]byte, error)) error {
	if !strings.HasPrefix(line, ".") {
		return nil
	}
	fields := strings.Fields(line)
	dir := filepath.Dir(deck)
	switch fields[0] {
	case ".code", ".play":
		cmd := highlightRE.ReplaceAllString(strings.TrimSpace(line), "")
		m := codeRE.FindStringSubmatch(cmd)
		if m == nil {
			return fmt.Errorf("cannot read the command %q", line)
		}
		file, addr := m[3], strings.TrimSpace(m[4])
		data, err := readFile(filepath.Join(dir, file))
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if err := checkAddress(addr, data); err != nil {
			return fmt.Errorf("%s %s: %w", file, addr, err)
		}
	case ".image", ".background", ".iframe", ".video", ".html":
		if len(fields) < 2 {
			return fmt.Errorf("%s needs a file", fields[0])
		}
		file := fields[1]
		if strings.Contains(file, "://") || strings.HasPrefix(file, "//") {
			return fmt.Errorf("%s loads %s from the network; the deck must show offline: keep a copy in slides/", fields[0], file)
		}
		if fields[0] != ".html" && strings.HasPrefix(filepath.Clean(file), "..") {
			// present serves the browser only the slides' folder.
			return fmt.Errorf("%s %s is outside the slides' folder, where the browser cannot fetch it", fields[0], file)
		}
		if _, err := readFile(filepath.Join(dir, file)); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s %s: no such file", fields[0], file)
			}
			return err
		}
	}
	return nil
}

// checkAddress checks the regular expressions of a present address, such as
// /^func greet\(/,/^}/: each must match after the match of the one before.
// present itself wraps around to the start of the file when a later
// expression matches only earlier, and then silently shows the wrong lines;
// this does not.
func checkAddress(addr string, data []byte) error {
	pos := 0
	for _, expr := range addressRegexps(addr) {
		re, err := regexp.Compile("(?m:" + expr + ")")
		if err != nil {
			return err
		}
		loc := re.FindIndex(data[pos:])
		if loc == nil {
			if earlier := re.FindIndex(data); earlier != nil {
				return fmt.Errorf("/%s/ matches only before the part of the address ahead of it (at line %d), so present would show the wrong lines",
					expr, 1+bytes.Count(data[:earlier[0]], []byte("\n")))
			}
			return fmt.Errorf("no match for /%s/: was it renamed or removed?", expr)
		}
		pos += loc[1]
	}
	return nil
}

// addressRegexps returns the regular expressions of addr in order, with
// their delimiting slashes removed and escaped slashes kept as present
// keeps them.
func addressRegexps(addr string) []string {
	var exprs []string
	for i := 0; i < len(addr); i++ {
		if addr[i] != '/' {
			continue
		}
		j := i + 1
		for ; j < len(addr) && addr[j] != '/'; j++ {
			if addr[j] == '\\' {
				j++
			}
		}
		exprs = append(exprs, addr[i+1:min(j, len(addr))])
		i = j
	}
	return exprs
}

// checkSlides checks the parsed slides: content that fits on the slide,
// included code without solution markers, and presenter notes on every
// slide.
func checkSlides(path string, lines []string, doc *present.Doc, readFile func(string) ([]byte, error)) []error {
	var errs []error
	for i, s := range doc.Sections {
		// The browser numbers the title slide 1: /workshop.slide#2 is the
		// first section.
		heading := lineOf(lines, 0, "## "+s.Title)
		where := func(line int) string {
			return fmt.Sprintf("%s:%d: slide #%d %q", path, line, i+2, s.Title)
		}
		if len(s.Notes) == 0 {
			errs = append(errs, fmt.Errorf("%s has no presenter notes (lines starting \": \")", where(heading)))
		}
		if len(s.Notes) > notesLines {
			errs = append(errs, fmt.Errorf("%s: its notes have %d lines, and the notes pane shows %d: say less, or join lines",
				where(heading), len(s.Notes), notesLines))
		}
		for _, n := range s.Notes {
			if w := utf8.RuneCountInString(n); w > notesColumns {
				errs = append(errs, fmt.Errorf("%s: a line of its notes has %d characters, and the notes pane shows %d: split it",
					where(heading), w, notesColumns))
			}
		}
		for _, c := range elemsOf[present.Code](s.Elem) {
			line := lineOf(lines, heading, c.Cmd)
			code := strings.Split(strings.TrimSuffix(string(c.Raw), "\n"), "\n")
			if len(code) > codeLines {
				errs = append(errs, fmt.Errorf("%s: %d lines of code; at most %d can be read from the back row: narrow the address",
					where(line), len(code), codeLines))
			}
			for _, l := range code {
				for _, m := range markers {
					if strings.Contains(l, m) {
						errs = append(errs, fmt.Errorf("%s: the code shows the marker %q; narrow the address", where(line), m))
					}
				}
				if w := columns(l); w > codeColumns {
					errs = append(errs, fmt.Errorf("%s: a line of %d columns, wider than the %d that fit: %q",
						where(line), w, codeColumns, strings.TrimSpace(l)))
				}
			}
		}
		if bottom := contentBottom(path, s, readFile); bottom > slideBottom {
			errs = append(errs, fmt.Errorf("%s: the content reaches about %dpx down, and the slide ends at %dpx; show less, or split the slide",
				where(heading), bottom, slideBottom))
		}
		for _, img := range elemsOf[present.Image](s.Elem) {
			if w, _ := imageSize(filepath.Join(filepath.Dir(path), img.URL), img, readFile); w > textWidth {
				errs = append(errs, fmt.Errorf("%s: %s is %dpx wide, and the slide is %dpx wide; give it a width",
					where(lineOf(lines, heading, img.Cmd)), img.URL, w, textWidth))
			}
		}
	}
	// Code written into the slides themselves, as indented Markdown, is
	// held to the same width and length.
	run, start := 0, 0
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "    ") || strings.HasPrefix(l, "\t"):
			if w := columns(l) - 4; w > codeColumns {
				errs = append(errs, fmt.Errorf("%s:%d: this line of code is %d columns, wider than the %d that fit", path, i+1, w, codeColumns))
			}
			if run == 0 {
				start = i + 1
			}
			run++
			if run == codeLines+1 {
				errs = append(errs, fmt.Errorf("%s:%d: more than %d lines of code in one block; at most %d can be read from the back row",
					path, start, codeLines, codeLines))
			}
		case strings.TrimSpace(l) != "":
			run = 0
		}
	}
	return errs
}

// checkStory checks the shape of the talk: at most talkSlides slides
// before the recap and the appendix, and no solution code before the
// recap: no file of solutions/, and no range of a file between its BEGIN
// SOLUTION and END SOLUTION markers. Code of a step's own folder shows
// the exercise, generated from the solution with the answers removed.
func checkStory(path string, lines []string, doc *present.Doc, readFile func(string) ([]byte, error)) []error {
	var errs []error
	talk, recapLine := len(doc.Sections), len(lines)
	for i, s := range doc.Sections {
		isRecap := strings.HasPrefix(s.Title, recapHeading)
		if isRecap || strings.HasPrefix(s.Title, appendixHeading) {
			if isRecap {
				recapLine = lineOf(lines, 0, "## "+s.Title)
			}
			if talk == len(doc.Sections) {
				talk = i
			}
			if isRecap {
				break
			}
		}
	}
	if slides := talk + 1; slides > talkSlides {
		at := len(lines)
		if talk < len(doc.Sections) {
			at = lineOf(lines, 0, "## "+doc.Sections[talk].Title)
		}
		errs = append(errs, fmt.Errorf("%s:%d: the talk has %d slides before its %s and %s, and may have %d: "+
			"new material goes to the appendix, unless it replaces a slide of the talk",
			path, at, slides, recapHeading, appendixHeading, talkSlides))
	}
	dir := filepath.Dir(path)
	for i, line := range lines[:recapLine-1] {
		m := codeRE.FindStringSubmatch(highlightRE.ReplaceAllString(strings.TrimSpace(line), ""))
		if m == nil {
			continue
		}
		file, addr := m[3], strings.TrimSpace(m[4])
		if slices.Contains(strings.Split(filepath.ToSlash(filepath.Clean(file)), "/"), "solutions") {
			errs = append(errs, fmt.Errorf("%s:%d: %s shows a solution before the recap: show the step's own file "+
				"(the exercise), or move the slide after \"## %s\"", path, i+1, file, recapHeading))
			continue
		}
		data, err := readFile(filepath.Join(dir, file))
		if err != nil {
			continue // checkCommand reports it
		}
		start, end, ok := addressRange(addr, data)
		for _, r := range solutionRanges(data) {
			if ok && start < r[1] && end > r[0] {
				errs = append(errs, fmt.Errorf("%s:%d: %s %s shows a solution before the recap (BEGIN SOLUTION at line %d): "+
					"move the slide after \"## %s\"", path, i+1, file, addr, 1+bytes.Count(data[:r[0]], []byte("\n")), recapHeading))
				break
			}
		}
	}
	return errs
}

// addressRange returns where in data the code that addr shows starts and
// ends: from the match of its first regular expression to the end of its
// last. An empty address is the whole file.
func addressRange(addr string, data []byte) (start, end int, ok bool) {
	exprs := addressRegexps(addr)
	if len(exprs) == 0 {
		return 0, len(data), true
	}
	pos := 0
	for i, expr := range exprs {
		re, err := regexp.Compile("(?m:" + expr + ")")
		if err != nil {
			return 0, 0, false
		}
		loc := re.FindIndex(data[pos:])
		if loc == nil {
			return 0, 0, false
		}
		if i == 0 {
			start = pos + loc[0]
		}
		pos += loc[1]
	}
	return start, pos, true
}

// solutionRanges returns the byte ranges of data between the markers
// "// BEGIN SOLUTION" and "// END SOLUTION".
func solutionRanges(data []byte) [][2]int {
	var ranges [][2]int
	for pos := 0; ; {
		b := bytes.Index(data[pos:], []byte("// BEGIN SOLUTION"))
		if b < 0 {
			return ranges
		}
		b += pos
		e := bytes.Index(data[b:], []byte("// END SOLUTION"))
		if e < 0 {
			return append(ranges, [2]int{b, len(data)})
		}
		e += b + len("// END SOLUTION")
		ranges = append(ranges, [2]int{b, e})
		pos = e
	}
}

// quotedTaskRE finds, in a slide, the output of a failing test quoted in
// a block of code: "Task 1: order.place answered ...".
var quotedTaskRE = regexp.MustCompile(`^\s+(Task \d+: .*)$`)

// testTaskRE finds the messages of the steps' tests, as string literals.
var testTaskRE = regexp.MustCompile(`"(Task \d+: (?:[^"\\]|\\.)*)"`)

// checkQuotedTasks checks that every test output the deck quotes ("Task 1:
// ...") is what a step's test says: the quote's first line must match the
// start of a message in ../step*/'s tests, where a verb (%v, %q, ...) may
// stand for anything. So a slide cannot promise a message that the tests
// no longer give.
func checkQuotedTasks(path string, lines []string, readFile func(string) ([]byte, error)) []error {
	var formats []string
	dir := filepath.Dir(path)
	for _, pattern := range []string{"*/*_test.go", "*/*/*_test.go"} {
		files, _ := filepath.Glob(filepath.Join(dir, "..", "step*", pattern))
		for _, f := range files {
			data, err := readFile(f)
			if err != nil {
				continue
			}
			for _, m := range testTaskRE.FindAllStringSubmatch(string(data), -1) {
				if s, err := strconv.Unquote(`"` + m[1] + `"`); err == nil {
					formats = append(formats, s)
				}
			}
		}
	}
	var errs []error
	for i, line := range lines {
		m := quotedTaskRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		quote, _, _ := strings.Cut(m[1], "...")
		quote, _, _ = strings.Cut(quote, "…")
		quote = strings.TrimSpace(quote)
		if !slices.ContainsFunc(formats, func(f string) bool { return quotes(quote, f) }) {
			errs = append(errs, fmt.Errorf("%s:%d: no test of a step says %q: copy the message from the test's output", path, i+1, quote))
		}
	}
	return errs
}

// verbRE matches the verbs of a format string.
var verbRE = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)

// quotes reports whether quote can be the start of what format prints: its
// literal pieces appear in quote in order, each verb standing for any
// text, and quote may end in the middle of a piece.
func quotes(quote, format string) bool {
	pieces := verbRE.Split(format, -1)
	pos := 0
	for i, piece := range pieces {
		rest := quote[pos:]
		if i == 0 {
			if strings.HasPrefix(rest, piece) {
				pos += len(piece)
				continue
			}
			return strings.HasPrefix(piece, rest)
		}
		if j := strings.Index(rest, piece); j >= 0 {
			pos += j + len(piece)
			continue
		}
		// The quote ends in this piece: a start of it ends the quote.
		for k := len(piece); k > 0; k-- {
			if strings.HasSuffix(rest, piece[:k]) {
				return true
			}
		}
		return false
	}
	// Every piece is in the quote; a message in several literals ("..." +
	// "...") may say more than its first.
	return true
}

// wrappedRows returns how many rows a line of included code takes on a
// slide, wrapped as style.html wraps it.
func wrappedRows(line string) int {
	line = strings.ReplaceAll(line, "\t", "    ")
	width := columns(line)
	indent := width - columns(strings.TrimLeft(line, " "))
	rows := 1
	for rest, room := width-codeColumns, codeColumns-indent-4; rest > 0; rest -= max(room, 1) {
		rows++
	}
	return rows
}

// columns returns the width of s in columns, a tab counting 4.
func columns(s string) int {
	return utf8.RuneCountInString(strings.ReplaceAll(s, "\t", "    "))
}

// elemsOf returns the elements of type T among elems, and in their
// subsections: elemsOf[present.Code] the code blocks.
func elemsOf[T present.Elem](elems []present.Elem) []T {
	var found []T
	for _, e := range elems {
		if t, ok := e.(T); ok {
			found = append(found, t)
		}
		if s, ok := e.(present.Section); ok {
			found = append(found, elemsOf[T](s.Elem)...)
		}
	}
	return found
}

// lineOf returns the 1-based number of the first line at or after index
// from that is text, or from+1 if there is none.
func lineOf(lines []string, from int, text string) int {
	for i := from; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == text {
			return i + 1
		}
	}
	return from + 1
}

// The layout of a slide in CSS pixels, from present's styles.css and
// style.html, measured in Chromium: enough to estimate how far down a
// slide's content reaches, and to catch a slide that overflows without a
// browser. (In the browser, style.html marks such a slide with a red bar.)
const (
	slideBottom = 700 - 40 // the content may reach down to the bottom padding
	titleBottom = 40 + 39  // the top padding and the title's line

	codeRow    = 28 // a line of code
	codeBorder = 12 // a code block's padding and border
	codeMargin = 14

	textRow      = 36  // a line of 26px text
	textWidth    = 980 // the width of a paragraph
	itemWidth    = 941 // the width of a list item's text
	itemSpace    = 13  // between list items
	listMargin   = 14
	paraMargin   = 20
	smallRow     = 28 // a line of 21px text (class "small")
	tableRow     = 36
	tableMargin  = 20
	imageMargin  = 16
	imageDescent = 9 // below an image, the rest of its line

	// The average width of a character, in pixels.
	textChar      = 11.0
	codeChar      = 13.5
	smallTextChar = 9.0
	smallCodeChar = 11.0
)

// A box is one element of a slide, stacked below the one before it: its
// height, and its margins, which collapse with the neighbour's.
type box struct {
	marginTop, height, marginBottom int
}

// contentBottom estimates how far down the slide s reaches, in pixels
// from the top of the slide.
func contentBottom(deck string, s present.Section, readFile func(string) ([]byte, error)) int {
	y, margin := titleBottom, 0
	for _, b := range boxes(deck, s.Elem, readFile) {
		y += max(margin, b.marginTop) + b.height
		margin = b.marginBottom
	}
	return y
}

// boxes returns the boxes of elems, in order.
func boxes(deck string, elems []present.Elem, readFile func(string) ([]byte, error)) []box {
	var bs []box
	for _, e := range elems {
		switch e := e.(type) {
		case present.Code:
			rows := 0
			for _, l := range strings.Split(strings.TrimSuffix(string(e.Raw), "\n"), "\n") {
				rows += wrappedRows(l)
			}
			bs = append(bs, box{codeMargin, codeBorder + codeRow*rows, codeMargin})
		case present.Image:
			_, height := imageSize(filepath.Join(filepath.Dir(deck), e.URL), e, readFile)
			bs = append(bs, box{imageMargin, height + imageDescent, 0})
		case present.HTML:
			bs = append(bs, htmlBoxes(string(e.HTML))...)
		case present.Section:
			bs = append(bs, boxes(deck, e.Elem, readFile)...)
		}
	}
	return bs
}

var (
	blockRE = regexp.MustCompile(`(?s)<(ul|ol|p|pre|table)(\s[^>]*)?>(.*?)</(?:ul|ol|p|pre|table)>`)
	itemRE  = regexp.MustCompile(`(?s)<li>(.*?)</li>`)
	codeRE2 = regexp.MustCompile(`(?s)<code>(.*?)</code>`)
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	charRE  = regexp.MustCompile(`&[a-z]+;|&#[0-9]+;`)
)

// htmlBoxes returns the boxes of Markdown rendered as HTML: paragraphs,
// lists, code blocks and tables.
func htmlBoxes(html string) []box {
	var bs []box
	for _, m := range blockRE.FindAllStringSubmatch(html, -1) {
		tag, attrs, body := m[1], m[2], m[3]
		switch tag {
		case "ul", "ol":
			items := itemRE.FindAllStringSubmatch(body, -1)
			h := itemSpace * max(0, len(items)-1)
			for _, item := range items {
				h += textRow * textLines(item[1], itemWidth, textChar, codeChar)
			}
			bs = append(bs, box{listMargin, h, itemSpace})
		case "p":
			if strings.Contains(attrs, "small") {
				bs = append(bs, box{paraMargin, smallRow * textLines(body, textWidth, smallTextChar, smallCodeChar), 0})
			} else {
				bs = append(bs, box{paraMargin, textRow * textLines(body, textWidth, textChar, codeChar), 0})
			}
		case "pre":
			lines := strings.Split(strings.TrimSuffix(plain(body), "\n"), "\n")
			bs = append(bs, box{codeMargin, codeBorder + codeRow*len(lines), codeMargin})
		case "table":
			bs = append(bs, box{tableMargin, tableRow * strings.Count(body, "<tr"), 0})
		}
	}
	return bs
}

// textLines estimates how many lines the HTML text takes in width pixels.
func textLines(html string, width int, textChar, codeChar float64) int {
	code := 0
	for _, m := range codeRE2.FindAllStringSubmatch(html, -1) {
		code += utf8.RuneCountInString(plain(m[1]))
	}
	text := utf8.RuneCountInString(strings.TrimSpace(plain(codeRE2.ReplaceAllString(html, ""))))
	px := float64(text)*textChar + float64(code)*codeChar
	return max(1, int(math.Ceil(px/float64(width))))
}

// plain returns HTML as text: without tags, an entity counting as one
// character.
func plain(html string) string {
	return charRE.ReplaceAllString(tagRE.ReplaceAllString(html, ""), "x")
}

// imageSize returns the size at which the slide shows image img: the size
// the command gives, or the size of the picture, scaled to keep its shape.
func imageSize(path string, img present.Image, readFile func(string) ([]byte, error)) (width, height int) {
	w, h := pictureSize(path, readFile)
	switch {
	case img.Width > 0 && img.Height > 0:
		return img.Width, img.Height
	case img.Height > 0 && h > 0:
		return img.Height * w / h, img.Height
	case img.Width > 0 && w > 0:
		return img.Width, img.Width * h / w
	}
	return w, h
}

var svgSizeRE = regexp.MustCompile(`<svg[^>]*\swidth="([0-9.]+)(pt|px)?"[^>]*\sheight="([0-9.]+)(pt|px)?"`)

// pictureSize returns the natural size of an SVG (from its width and
// height), PNG, JPEG or GIF file in CSS pixels, or zeros if it cannot tell.
func pictureSize(path string, readFile func(string) ([]byte, error)) (width, height int) {
	data, err := readFile(path)
	if err != nil {
		return 0, 0
	}
	if m := svgSizeRE.FindSubmatch(data); m != nil {
		px := func(num, unit []byte) int {
			var f float64
			fmt.Sscan(string(num), &f)
			if string(unit) == "pt" {
				f = f * 4 / 3
			}
			return int(f)
		}
		return px(m[1], m[2]), px(m[3], m[4])
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		return cfg.Width, cfg.Height
	}
	return 0, 0
}
