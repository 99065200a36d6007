package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// watchEvery is how often watch looks for a saved file. Polling the
// modification times is plain and works the same on Linux and macOS,
// without a dependency for file system events.
const watchEvery = 500 * time.Millisecond

// clearScreen moves the cursor home and clears the terminal (ANSI).
const clearScreen = "\033[H\033[2J"

// watch is make watch, rustlings-style: it runs the step's tests whenever
// a .go file of the step changes, and shows only the recap: the first
// failing task and its hint, or that the step is green. Ctrl-C ends it.
func watch(dir string, s Step, opts runOptions) error {
	// Ctrl-C is how watch ends, so it ends without an error: make would
	// report one.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var seen stamps
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		if ctx.Err() != nil {
			fmt.Println("\nStopped watching.")
			return nil
		}
		now, err := goFileStamps(dir)
		if err != nil {
			return err
		}
		if maps.Equal(now, seen) {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
			continue
		}
		seen = now
		header := clearScreen + "Watching " + s.Dir + ": save a .go file to test again; Ctrl-C ends.\n"
		fmt.Print(header + "\nTesting...\n")
		r, err := runStep(dir, s, opts, io.Discard)
		if ctx.Err() != nil {
			continue // the tests were stopped too
		}
		if err != nil {
			return err
		}
		fmt.Printf("%sTested at %s.\n", header, time.Now().Format(time.TimeOnly))
		if err := r.recap(os.Stdout, dir); err != nil {
			return err
		}
	}
}

// stamp is what tells that a file changed: a save changes its modification
// time, and usually its size.
type stamp struct {
	Size    int64
	ModTime int64 // in nanoseconds since 1970
}

// stamps are the stamps of files, by path.
type stamps map[string]stamp

// goFileStamps stamps every .go file below dir; a file added or removed
// changes the set.
func goFileStamps(dir string) (stamps, error) {
	found := make(stamps)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while we walked: the next look sees it gone
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		info, err := d.Info()
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		found[path] = stamp{info.Size(), info.ModTime().UnixNano()}
		return nil
	})
	return found, err
}
