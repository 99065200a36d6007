package node

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
)

// ColorMode says when the prefixes of output lines are coloured.
type ColorMode int

const (
	ColorAuto   ColorMode = iota // colours when the output is a terminal
	ColorAlways                  // colours even into a file or a pipe
	ColorNever                   // plain text
)

func (m ColorMode) enabled(w io.Writer) bool {
	switch m {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	// A terminal is a character device. So is /dev/null, which does not
	// mind colours.
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// The colours of the prefixes, as ANSI escape codes: cyan, yellow, green,
// magenta, blue, and then their bright variants. Red is left out: it reads
// as an error.
var palette = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

// nameWidth returns the length of the longest instance name, so that the
// prefixes line up.
func nameWidth(cfg Config) int {
	width := 0
	for _, svc := range cfg.Services {
		most := svc.Instances
		if svc.Scale != nil {
			most = svc.Scale.Max
		}
		name := Instance{Service: svc.Name, Index: most - 1}.Name()
		width = max(width, len(name))
	}
	return width
}

// A lineWriter writes whole lines, one at a time, to the node's output,
// so that the lines of two instances never mix.
type lineWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (lw *lineWriter) writeLine(prefix, line []byte) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.buf = append(append(lw.buf[:0], prefix...), line...)
	lw.w.Write(lw.buf) // a failed write loses this line only; the instance goes on
}

// A prefixer is the output of one instance. It cuts what the instance
// writes into lines and hands each one, after the prefix, to the
// lineWriter. Only one goroutine writes to it at a time (exec.Cmd's copier,
// then flush once the process has exited).
type prefixer struct {
	out     *lineWriter
	prefix  []byte // "menu.1 | ", perhaps coloured
	partial []byte // the start of a line whose end has not come yet
}

// maxLine is the longest line kept whole; a longer one is cut into pieces,
// so that a program that never writes a newline cannot fill the memory.
const maxLine = 64 << 10

func newPrefixer(out *lineWriter, name string, width, n int, colors bool) *prefixer {
	prefix := fmt.Sprintf("%-*s | ", width, name)
	if colors {
		prefix = fmt.Sprintf("\x1b[%sm%-*s |\x1b[0m ", palette[n%len(palette)], width, name)
	}
	return &prefixer{out: out, prefix: []byte(prefix)}
}

func (p *prefixer) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	rest := p.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		p.out.writeLine(p.prefix, rest[:i+1])
		rest = rest[i+1:]
	}
	// Move the unfinished line to the start of the buffer, which is reused.
	p.partial = p.partial[:copy(p.partial, rest)]
	if len(p.partial) > maxLine {
		p.flush()
	}
	return len(b), nil
}

// flush writes the last line if the instance did not end it with a newline.
func (p *prefixer) flush() {
	if len(p.partial) > 0 {
		p.out.writeLine(p.prefix, append(p.partial, '\n'))
		p.partial = p.partial[:0]
	}
}
