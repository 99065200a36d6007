package slides

// The checks that need a browser: the deck as present serves it, every
// slide at 1280×720, and the READMEs as GitHub shows them. They run in
// make test-slides when Chromium is there (see browser.Require).

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hive-workshop/microservices-go/internal/browser"
)

// The room's screen, in CSS pixels: present scales its 900×700 slides
// down to fit it.
const screenWidth, screenHeight = 1280, 720

// The smallest text the back row can read on that screen, in pixels.
const (
	minCodePixels  = 20
	minLabelPixels = 16
)

// TestDeckInChromium serves the deck with present, opens it in a headless
// Chromium at 1280×720, and checks every slide as the room sees it: no
// content outside the slide, no code block wider or taller than the
// slide, no line of code wrapped onto a second row, code of at least
// minCodePixels, and diagram labels of at least minLabelPixels. It keeps
// a screenshot of each slide that fails; HIVE_SCREENSHOTS=DIR keeps one
// of every slide, to look at them.
func TestDeckInChromium(t *testing.T) {
	chromium := browser.Require(t)
	base := servePresent(t)
	b := browser.Start(t, chromium)

	decks, err := filepath.Glob("*.slide")
	if err != nil || len(decks) == 0 {
		t.Fatalf("no .slide files: %v", err)
	}
	shots := browser.ScreenshotDir(t)
	for _, deck := range decks {
		for _, p := range slideProblems(t, b, base, deck, shots) {
			t.Error(p)
		}
	}
	if t.Failed() {
		t.Logf("screenshots of the slides that failed: %s", shots)
	}
}

// TestScreenFixtureInChromium checks that the browser check finds what it
// is for, in testdata/screen.slide: a line of code that wraps, code that
// runs off its slide, and a diagram with labels too small to read.
func TestScreenFixtureInChromium(t *testing.T) {
	chromium := browser.Require(t)
	base := servePresent(t)
	b := browser.Start(t, chromium)
	problems := strings.Join(slideProblems(t, b, base, "testdata/screen.slide", t.TempDir()), "\n")
	for _, want := range []string{
		`screen.slide#2 "A wrapped line": code block 1: its 1 lines take 2 rows`,
		`screen.slide#3 "Too long": the content does not fit`,
		`screen.slide#3 "Too long": code block 1 reaches outside the slide`,
		`screen.slide#4 "Tiny labels": tiny.svg: the label "tiny" is`,
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("want a problem %q; got:\n%s", want, problems)
		}
	}
}

// slideProblems opens the deck in the browser and returns what is wrong
// with each of its slides on the screen, keeping a screenshot of each
// slide with a problem in shots (of every slide with HIVE_SCREENSHOTS).
func slideProblems(t *testing.T, b *browser.Browser, base, deck, shots string) []string {
	t.Helper()
	if err := b.Open(base+"/"+deck, screenWidth, screenHeight); err != nil {
		t.Fatal(err)
	}
	var count int
	if err := b.Eval(setupDeckJS, &count); err != nil {
		t.Fatal(err)
	}
	if count < 2 {
		t.Fatalf("%s shows %d slides in Chromium", deck, count)
	}
	name := filepath.Base(deck)
	var problems []string
	for i := range count {
		var slide struct {
			Title    string
			Problems []string
		}
		js := fmt.Sprintf("(%s)(%d, %d, %d)", measureSlideJS, i, minCodePixels, minLabelPixels)
		if err := b.Eval(js, &slide); err != nil {
			t.Fatalf("%s slide %d: %v", deck, i+1, err)
		}
		for _, p := range slide.Problems {
			problems = append(problems, fmt.Sprintf("%s#%d %q: %s", name, i+1, slide.Title, p))
		}
		if len(slide.Problems) > 0 || os.Getenv("HIVE_SCREENSHOTS") != "" {
			shot := filepath.Join(shots, fmt.Sprintf("%s-%02d.png", strings.TrimSuffix(name, ".slide"), i+1))
			if err := b.Screenshot(shot); err != nil {
				t.Error(err)
			}
		}
	}
	return problems
}

// TestREADMEsInChromium renders the READMEs (the top one, the steps', the
// pages in docs/) as GitHub does, with GitHub-flavoured Markdown and
// GitHub's CSS in its 888-pixel column (slides/markdown, from npm), and
// fails on anything that scrolls sideways there: the page, a code block, a
// table.
func TestREADMEsInChromium(t *testing.T) {
	chromium := browser.Require(t)
	render := requireRenderer(t)
	files := []string{"../README.md", "../PROTOCOL.md"}
	for _, pattern := range []string{"../step*/README.md", "../docs/*.md"} {
		more, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, more...)
	}

	// The rendered page and the files it links to (pictures) come from
	// one server, over the repository's folder.
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fileServer := http.FileServer(http.Dir(root))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".md") {
			fileServer.ServeHTTP(w, r)
			return
		}
		html, err := render(filepath.Join(root, filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(html)
	}))
	defer srv.Close()

	b := browser.Start(t, chromium)
	shots := browser.ScreenshotDir(t)
	for _, file := range files {
		rel, _ := filepath.Rel("..", file)
		if err := b.Open(srv.URL+"/"+filepath.ToSlash(rel), screenWidth, 800); err != nil {
			t.Fatal(err)
		}
		var problems []string
		if err := b.Eval(measureREADMEJS, &problems); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, p := range problems {
			t.Errorf("%s, rendered as on GitHub: %s", rel, p)
		}
		if len(problems) > 0 {
			name := strings.ReplaceAll(rel, string(filepath.Separator), "_") + ".png"
			if err := b.Screenshot(filepath.Join(shots, name)); err != nil {
				t.Error(err)
			}
		}
	}
	if t.Failed() {
		t.Logf("screenshots (of the top of each page that failed): %s", shots)
	}
}

// requireRenderer returns a function that renders a Markdown file as
// GitHub would, through node and slides/markdown's packages from npm.
// Without them it skips, or fails under HIVE_REQUIRE_BROWSER=1.
func requireRenderer(t *testing.T) func(file string) ([]byte, error) {
	t.Helper()
	node, err := exec.LookPath("node")
	missing := ""
	switch {
	case err != nil:
		missing = "node is not installed (Debian: apt-get install nodejs npm)"
	default:
		if _, err := os.Stat(filepath.Join("markdown", "node_modules", "marked")); err != nil {
			missing = "slides/markdown's npm packages are not installed (npm ci --prefix slides/markdown)"
		}
	}
	if missing != "" {
		msg := "cannot render the READMEs as GitHub does: " + missing
		if os.Getenv("HIVE_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + "; HIVE_REQUIRE_BROWSER=1 makes this a failure.")
		}
		t.Skip(msg)
	}
	script, err := filepath.Abs(filepath.Join("markdown", "render.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	return func(file string) ([]byte, error) {
		// Reading the files here, too, tells go test's cache what the
		// result depends on: node's reads are not the test's own.
		for _, f := range []string{script, file} {
			if _, err := os.ReadFile(f); err != nil {
				return nil, err
			}
		}
		out, err := exec.Command(node, script, file).Output()
		if err != nil {
			return nil, fmt.Errorf("node %s %s: %w", script, file, err)
		}
		return out, nil
	}
}

// servePresent starts Go's present tool on the slides' folder, on a free
// port, and returns its address; the test's cleanup stops it.
func servePresent(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "go", "tool", "present", "-http", "127.0.0.1:0", "-play=false", "-notes")
	cmd.Dir = "."
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			if m := presentAddrRE.FindStringSubmatch(scanner.Text()); m != nil {
				addr <- m[1]
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("go tool present ended before it served the slides")
		}
		return a
	case <-time.After(2 * time.Minute): // the first run builds present
		t.Fatal("go tool present did not start within 2 minutes")
	}
	return ""
}

var presentAddrRE = regexp.MustCompile(`visit (http://\S+)`)

// setupDeckJS turns present's slide transitions off, so that a slide is in
// place at once, and returns the number of slides.
const setupDeckJS = `(() => {
	const style = document.createElement("style");
	style.textContent = "* { transition: none !important; }";
	document.head.appendChild(style);
	return document.querySelectorAll("section.slides > article").length;
})()`

// measureSlideJS shows slide i (from 0) and returns its title and what is
// wrong with it on the screen. Sizes on the screen are CSS pixels times
// the scale at which present shows the slide.
const measureSlideJS = `async (i, minCode, minLabel) => {
	curSlide = i;
	updateSlides();
	const slide = document.querySelectorAll("section.slides > article")[i];
	const box = slide.getBoundingClientRect();
	const scale = box.width / slide.offsetWidth;
	const px = (v) => parseFloat(v);
	const problems = [];
	const title = (slide.querySelector("h1, h2, h3") || {}).textContent || "";

	if (slide.scrollHeight > slide.clientHeight + 1 || slide.scrollWidth > slide.clientWidth + 1) {
		problems.push("the content does not fit on the slide: " + slide.scrollWidth + "×" + slide.scrollHeight +
			" px of content in " + slide.clientWidth + "×" + slide.clientHeight);
	}

	slide.querySelectorAll("pre").forEach((pre, k) => {
		const name = "code block " + (k + 1);
		const r = pre.getBoundingClientRect();
		if (r.right > box.right + 1 || r.bottom > box.bottom + 1) {
			problems.push(name + " reaches outside the slide (" + Math.round((r.right - box.right) / scale) + " px to the right, " +
				Math.round((r.bottom - box.bottom) / scale) + " px below)");
		}
		if (pre.scrollWidth > pre.clientWidth + 1) {
			problems.push(name + " is cut off: " + pre.scrollWidth + " px of code in " + pre.clientWidth);
		}
		// Included code has a span per line (present); Markdown code is text.
		const lines = pre.querySelectorAll(":scope > span");
		const font = getComputedStyle(lines[0] || pre);
		const size = px(font.fontSize) * scale;
		if (size < minCode - 0.05) {
			problems.push(name + " is " + size.toFixed(1) + " px on the screen; code must be " + minCode + " px or more");
		}
		const rowHeight = px(font.lineHeight);
		if (lines.length > 0) {
			lines.forEach((line) => {
				const rows = Math.round(line.getBoundingClientRect().height / scale / rowHeight);
				if (rows > 1) {
					problems.push(name + ": the line \"" + line.textContent.trim().slice(0, 50) + "\" wraps onto " + rows + " rows");
				}
			});
		} else {
			const style = getComputedStyle(pre);
			const want = pre.textContent.replace(/\n$/, "").split("\n").length;
			const rows = Math.round((pre.clientHeight - px(style.paddingTop) - px(style.paddingBottom)) / rowHeight);
			if (rows > want) {
				problems.push(name + ": its " + want + " lines take " + rows + " rows; a line wraps");
			}
		}
	});

	for (const img of slide.querySelectorAll("img")) {
		const r = img.getBoundingClientRect();
		if (r.right > box.right + 1 || r.bottom > box.bottom + 1) {
			problems.push(img.getAttribute("src") + " reaches outside the slide");
		}
		if (!/\.svg$/.test(img.src)) {
			continue;
		}
		// The labels' size on the screen: the SVG drawn again, inline, at
		// the size the slide shows it, where each text can be measured.
		const doc = new DOMParser().parseFromString(await (await fetch(img.src)).text(), "image/svg+xml");
		const svg = document.importNode(doc.documentElement, true);
		if (!svg.getAttribute("viewBox")) {
			svg.setAttribute("viewBox", "0 0 " + px(svg.getAttribute("width")) + " " + px(svg.getAttribute("height")));
		}
		svg.setAttribute("width", img.clientWidth);
		svg.setAttribute("height", img.clientHeight);
		const holder = document.createElement("div");
		holder.style.cssText = "position: absolute; left: 0; top: 0; visibility: hidden";
		holder.appendChild(svg);
		document.body.appendChild(holder);
		let smallest = Infinity, label = "";
		svg.querySelectorAll("text").forEach((text) => {
			if (!text.textContent.trim()) {
				return;
			}
			const m = text.getScreenCTM();
			const size = px(getComputedStyle(text).fontSize) * Math.hypot(m.a, m.b) * scale;
			if (size < smallest) {
				smallest = size;
				label = text.textContent.trim();
			}
		});
		holder.remove();
		if (smallest < minLabel - 0.05) {
			problems.push(img.getAttribute("src") + ": the label \"" + label.slice(0, 40) + "\" is " + smallest.toFixed(1) +
				" px on the screen; labels must be " + minLabel + " px or more");
		}
	}
	return { title, problems };
}`

// measureREADMEJS returns what scrolls sideways on a rendered README.
const measureREADMEJS = `(() => {
	const problems = [];
	const page = document.scrollingElement;
	if (page.scrollWidth > page.clientWidth + 1) {
		problems.push("the page scrolls sideways: " + page.scrollWidth + " px wide in a window of " + page.clientWidth);
	}
	const column = document.querySelector(".markdown-body");
	const near = (el) => {
		const heading = [...document.querySelectorAll("h1, h2, h3, h4")].filter((h) =>
			h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING).pop();
		return heading ? " (under \"" + heading.textContent.trim() + "\")" : "";
	};
	document.querySelectorAll(".markdown-body pre, .markdown-body table").forEach((el) => {
		if (el.scrollWidth > el.clientWidth + 1) {
			const what = el.tagName === "PRE" ? "a code block starting \"" + el.textContent.trim().split("\n")[0].slice(0, 50) + "\"" : "a table";
			problems.push(what + near(el) + " scrolls sideways: " + el.scrollWidth + " px wide in " + el.clientWidth);
		}
	});
	const right = column.getBoundingClientRect().right;
	document.querySelectorAll(".markdown-body img").forEach((img) => {
		if (img.getBoundingClientRect().right > right + 1) {
			problems.push("the picture " + img.getAttribute("src") + " is wider than the column");
		}
	});
	return problems;
})()`
