package source

import (
	"strconv"
	"strings"
)

// goose's migrations written in Go: a file NNN_name.go whose init function
// registers the migration's up and down functions with goose (goose takes
// the version from the caller's file name). pgmig cannot run such a file;
// a Go program can register the functions with the runner instead, and
// the source reports the files so that nothing is skipped in silence.

// isGooseGoName reports whether name is named as goose names a Go
// migration: digits, '_', a name, ".go".
func isGooseGoName(name string) bool {
	digits := len(name) - len(strings.TrimLeft(name, "0123456789"))
	return digits > 0 && strings.HasPrefix(name[digits:], "_") && len(name) > digits+1+len(".go")
}

// goRegistrations are the goose functions that register a Go migration.
var goRegistrations = []string{
	"AddMigration", "AddMigrationContext", "AddMigrationNoTx", "AddMigrationNoTxContext",
	"AddNamedMigration", "AddNamedMigrationContext", "AddNamedMigrationNoTx", "AddNamedMigrationNoTxContext",
}

// parseGoFile reads a NNN_name.go file as a goose Go migration. ok is
// false when the file registers no goose migration, so that other Go code
// that happens to be named so is not taken for one.
func parseGoFile(file string, content string) (parsedFile, bool) {
	text := normalize(content)
	registers := false
	for _, fn := range goRegistrations {
		if strings.Contains(text, "."+fn+"(") {
			registers = true
			break
		}
	}
	if !registers {
		return parsedFile{}, false
	}
	digits := len(file) - len(strings.TrimLeft(file, "0123456789"))
	version, err := strconv.ParseInt(file[:digits], 10, 64)
	if err != nil || version == 0 {
		return parsedFile{}, false
	}
	fn := fileName{version: version, width: digits, ver: IntVersion(version), kind: kindGo,
		name: strings.TrimSuffix(file[digits+1:], ".go")}
	return parsedFile{file: file, fileName: fn, up: &Section{File: file, Line: 1}, sum: text}, true
}
