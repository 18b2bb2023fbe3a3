package remote

import (
	"errors"
	"fmt"
	"net/http"
)

var (
	// ErrInvalidURL is matched by errors about the URL as given, before
	// anything is fetched: not http(s), unparseable, a malformed
	// "#sha256=" pin or an archive type it cannot tell from the path.
	ErrInvalidURL = errors.New("invalid source URL")

	// ErrInsecure is matched when a plain http:// URL is refused because
	// Options.AllowInsecure is not set.
	ErrInsecure = errors.New("plain http is refused")

	// ErrUnsafeArchive is matched by every refusal of the archive's
	// content or size: *UnsafeArchiveError and an oversized download.
	ErrUnsafeArchive = errors.New("unsafe archive")
)

// UnsafeArchiveError is an archive refused because of one of its entries,
// or because it is too large. It matches ErrUnsafeArchive.
type UnsafeArchiveError struct {
	Entry  string // the entry's name as stored in the archive; empty for the archive as a whole
	Reason string // what is wrong, e.g. "symlink" or "more than 10000 entries"
}

func (e *UnsafeArchiveError) Error() string {
	if e.Entry == "" {
		return "unsafe archive: " + e.Reason
	}
	return fmt.Sprintf("unsafe archive: entry %q: %s", e.Entry, e.Reason)
}

// Is reports whether target is ErrUnsafeArchive.
func (e *UnsafeArchiveError) Is(target error) bool { return target == ErrUnsafeArchive }

func unsafeEntry(name, format string, a ...any) error {
	return &UnsafeArchiveError{Entry: name, Reason: fmt.Sprintf(format, a...)}
}

// DigestMismatchError reports a downloaded archive whose SHA-256 differs
// from the URL's "#sha256=" pin. Nothing of it was unpacked.
type DigestMismatchError struct {
	URL  string // redacted
	Want string // the pin, lowercase hex
	Got  string // the downloaded bytes' digest, lowercase hex
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("archive %s: sha256 is %s, pinned %s: the archive changed or is not the one expected", e.URL, e.Got, e.Want)
}

// StatusError is a response other than 200 OK, after any retries.
type StatusError struct {
	URL        string // redacted
	StatusCode int
	Status     string // as the server sent it, e.g. "404 Not Found"
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("get %s: %s", e.URL, e.Status)
}

// transient reports whether a response with this status may succeed when
// asked again.
func (e *StatusError) transient() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}
