package cli

import (
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

func (a *cliApp) versionCommand() *cli.Command {
	return &cli.Command{
		Name:   "version",
		Usage:  "print the version, commit and build date",
		Action: a.version,
	}
}

// Build is what a release stamps into the binary: package main's
// variables, set with -ldflags "-X main.version=… -X main.commit=…
// -X main.date=…", passed on by main. An empty field falls back to what
// the Go toolchain recorded in the binary.
type Build struct {
	Version, Commit, Date string
}

// resolve returns the stamped version, commit and date, falling back to
// what the Go toolchain recorded in the binary.
func (b Build) resolve() (v, c, d string) {
	v, c, d = b.Version, b.Commit, b.Date
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return orDev(v), orUnknown(c), orUnknown(d)
	}
	if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if c == "" {
				c = s.Value
			}
		case "vcs.time":
			if d == "" {
				d = s.Value
			}
		}
	}
	return orDev(v), orUnknown(c), orUnknown(d)
}

func orDev(s string) string {
	if s == "" {
		return "dev"
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (a *cliApp) version(*cli.Context) error {
	a.out.version(a.build.resolve())
	return nil
}
