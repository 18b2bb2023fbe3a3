// Command render times the text table of `pgmig status` for N rows, built
// the way render.go builds it (tablewriter, no wrapping, no header
// formatting), written to stdout unbuffered (as the CLI does) and through
// a bufio.Writer, against text/tabwriter. Run with stdout on /dev/null.
//
//	render 10000 > /dev/null
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

func rows(n int) [][]string {
	r := make([][]string, n)
	for i := range r {
		r[i] = []string{fmt.Sprintf("%05d", i+1), "m", "applied", "2026-11-28 00:30:00", "0.4 ms"}
	}
	return r
}

func table(w io.Writer, rs [][]string) {
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAutoWrap(tw.WrapNone))
	t.Header("VERSION", "NAME", "STATE", "APPLIED AT", "DURATION")
	for _, r := range rs {
		t.Append(r)
	}
	t.Render()
}

func tab(w io.Writer, rs [][]string) {
	t := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(t, "VERSION\tNAME\tSTATE\tAPPLIED AT\tDURATION")
	for _, r := range rs {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", r[0], r[1], r[2], r[3], r[4])
	}
	t.Flush()
}

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	rs := rows(n)
	time3 := func(name string, f func()) {
		best := time.Hour
		for i := 0; i < 5; i++ {
			s := time.Now()
			f()
			best = min(best, time.Since(s))
		}
		fmt.Fprintf(os.Stderr, "%-40s %7.1f ms (best of 5)\n", name, float64(best)/1e6)
	}
	time3("tablewriter, unbuffered stdout", func() { table(os.Stdout, rs) })
	time3("tablewriter, bufio stdout", func() { b := bufio.NewWriter(os.Stdout); table(b, rs); b.Flush() })
	time3("tablewriter, io.Discard", func() { table(io.Discard, rs) })
	time3("text/tabwriter, bufio stdout", func() { b := bufio.NewWriter(os.Stdout); tab(b, rs); b.Flush() })
}
