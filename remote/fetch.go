package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Defaults used for the zero fields of Options.
const (
	DefaultMaxDownload = 64 << 20  // 64 MiB
	DefaultMaxUnpacked = 256 << 20 // 256 MiB
	DefaultMaxFiles    = 10000
	DefaultTimeout     = 60 * time.Second
	DefaultRetries     = 3
	DefaultRetryWait   = 500 * time.Millisecond
)

// Options tunes Fetch. The zero value works: each zero field takes the
// default its comment states.
type Options struct {
	// AllowInsecure permits plain http:// URLs, which are refused
	// otherwise: without TLS anyone on the path can change the SQL.
	AllowInsecure bool
	// MaxDownload caps the archive's size in bytes, as sent over the wire.
	// Zero means 64 MiB.
	MaxDownload int64
	// MaxUnpacked caps the total of all entries' sizes in bytes, as
	// declared and as actually decompressed. Zero means 256 MiB.
	MaxUnpacked int64
	// MaxFiles caps the number of entries, directories and files other
	// than .sql included. Zero means 10000.
	MaxFiles int
	// Timeout bounds the whole fetch: every attempt, the waits between
	// them and reading the body. Zero means 60s.
	Timeout time.Duration
	// Retries is how many times a transient failure (a network error,
	// a 429 or 5xx response) is retried, with exponential backoff. Zero
	// means 3; a negative value means no retry.
	Retries int
	// RetryWait is the first wait between attempts; each next one is
	// about 1.5 times longer, with jitter. Zero means 500ms.
	RetryWait time.Duration
	// Client makes the requests. Nil means a client like
	// http.DefaultClient's (proxy from the environment, system CA roots)
	// of Fetch's own. Redirects from https to http are refused unless
	// AllowInsecure is set, whatever the client.
	Client *http.Client
	// Logger receives debug records of each attempt and a warning before
	// each retry, URLs redacted. Nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxDownload <= 0 {
		o.MaxDownload = DefaultMaxDownload
	}
	if o.MaxUnpacked <= 0 {
		o.MaxUnpacked = DefaultMaxUnpacked
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.RetryWait <= 0 {
		o.RetryWait = DefaultRetryWait
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// archiveKind is how the archive is packed.
type archiveKind int

const (
	tarGz archiveKind = iota + 1
	zipArchive
)

// target is a parsed, checked URL.
type target struct {
	u        *url.URL // without fragment: what is sent
	redacted string   // with fragment: what is printed
	kind     archiveKind
	pin      string // lowercase hex, or ""
}

func parseTarget(rawURL string, allowInsecure bool) (*target, error) {
	red := Redact(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL; keep only its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w %s: %v", ErrInvalidURL, red, err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowInsecure {
			return nil, fmt.Errorf("%s: %w: use https, or allow it explicitly (Options.AllowInsecure)", red, ErrInsecure)
		}
	default:
		return nil, fmt.Errorf("%w %s: want an https:// URL", ErrInvalidURL, red)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w %s: no host", ErrInvalidURL, red)
	}
	t := &target{redacted: red}
	if u.Fragment != "" || u.RawFragment != "" || strings.HasSuffix(rawURL, "#") {
		hexPin, ok := strings.CutPrefix(u.Fragment, "sha256=")
		if !ok || len(hexPin) != 64 || !isHex(hexPin) {
			return nil, fmt.Errorf("%w %s: want the fragment #sha256= followed by 64 hex digits", ErrInvalidURL, red)
		}
		t.pin = strings.ToLower(hexPin)
	}
	u.Fragment, u.RawFragment = "", ""
	p := strings.ToLower(u.Path)
	switch {
	case strings.HasSuffix(p, ".tar.gz"), strings.HasSuffix(p, ".tgz"):
		t.kind = tarGz
	case strings.HasSuffix(p, ".zip"):
		t.kind = zipArchive
	default:
		return nil, fmt.Errorf("%w %s: the path must end in .tar.gz, .tgz or .zip", ErrInvalidURL, red)
	}
	t.u = u
	return t, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Fetch downloads the archive at rawURL and returns an in-memory, read-only
// file system holding its .sql files at the root (see the package
// documentation for the layout, the pin and what is refused). The result
// is safe for concurrent use.
//
// Errors: ErrInvalidURL or ErrInsecure for the URL as given;
// *DigestMismatchError when the pin does not match; ErrUnsafeArchive for
// the archive's content or size; *StatusError for a response other than
// 200; otherwise the network's error, wrapped, with the URL redacted.
func Fetch(ctx context.Context, rawURL string, opts Options) (fs.FS, error) {
	opts = opts.withDefaults()
	t, err := parseTarget(rawURL, opts.AllowInsecure)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	body, err := download(ctx, t, opts)
	if err != nil {
		return nil, err
	}
	got := hex.EncodeToString(body.sum[:])
	log := opts.Logger.With("url", t.redacted)
	log.Debug("downloaded source archive", "bytes", body.size, "sha256", got)
	// Check the pin before a single entry is looked at: a tampered
	// archive must not reach the decompressors.
	if t.pin != "" && got != t.pin {
		return nil, &DigestMismatchError{URL: t.redacted, Want: t.pin, Got: got}
	}
	lim := limits{maxUnpacked: opts.MaxUnpacked, maxFiles: opts.MaxFiles}
	var fsys *memFS
	switch t.kind {
	case tarGz:
		fsys, err = unpackTarGz(body.reader(), lim, log)
	case zipArchive:
		fsys, err = unpackZip(body, body.size, lim, log)
	}
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", t.redacted, err)
	}
	if len(fsys.names) == 0 {
		// Most likely packed one folder too deep: applying nothing would
		// look like success.
		return nil, fmt.Errorf("archive %s: %w", t.redacted, &UnsafeArchiveError{Reason: "no .sql files at its root or in its one top folder"})
	}
	return fsys, nil
}

// download gets the body, retrying transient failures.
func download(ctx context.Context, t *target, opts Options) (*spool, error) {
	client := httpClient(opts)
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(opts.RetryWait), backoff.WithMaxElapsedTime(0))
	attempt := 0
	var last error
	op := func() (*spool, error) {
		attempt++
		opts.Logger.Debug("fetching source archive", "url", t.redacted, "attempt", attempt)
		data, err := get(ctx, client, t, opts.MaxDownload)
		last = err
		switch {
		case err == nil:
			return data, nil
		case ctx.Err() != nil:
			return nil, backoff.Permanent(deadline(ctx, t, opts.Timeout, err))
		case !isTransient(err):
			return nil, backoff.Permanent(err)
		}
		return nil, err
	}
	notify := func(err error, wait time.Duration) {
		opts.Logger.Warn("retrying source download", "url", t.redacted, "attempt", attempt, "wait", wait, "err", err)
	}
	data, err := backoff.RetryNotifyWithData(op, backoff.WithContext(backoff.WithMaxRetries(b, uint64(opts.Retries)), ctx), notify)
	if err != nil && err == ctx.Err() {
		// The time ran out while waiting to retry.
		return nil, deadline(ctx, t, opts.Timeout, last)
	}
	return data, err
}

// deadline explains a fetch cut short by ctx, and why the attempt under way
// or the last one failed.
func deadline(ctx context.Context, t *target, timeout time.Duration, last error) error {
	why := "cancelled"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why = fmt.Sprintf("timed out after %s", timeout)
	}
	if last == nil || errors.Is(last, ctx.Err()) {
		return fmt.Errorf("get %s: %s: %w", t.redacted, why, ctx.Err())
	}
	return fmt.Errorf("get %s: %s (last attempt: %v): %w", t.redacted, why, last, ctx.Err())
}

// transientError marks a failure worth another attempt.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func isTransient(err error) bool {
	var te *transientError
	var se *StatusError
	return errors.As(err, &te) || errors.As(err, &se) && se.transient()
}

// get makes one attempt.
func get(ctx context.Context, client *http.Client, t *target, maxDownload int64) (*spool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrInvalidURL, t.redacted, err)
	}
	// The digest is over the bytes as sent: no transparent decompression.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error prints the URL unredacted (only its password is
		// hidden): keep its cause, name the URL ourselves.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		err = fmt.Errorf("get %s: %w", t.redacted, err)
		if permanentNetError(err) {
			return nil, err
		}
		return nil, &transientError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused for the retry.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &StatusError{URL: t.redacted, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	if resp.ContentLength > maxDownload {
		return nil, &UnsafeArchiveError{Reason: fmt.Sprintf("download of %d bytes exceeds the %s limit", resp.ContentLength, humanSize(maxDownload))}
	}
	// Content-Length may lie or be absent: count what actually arrives.
	body, err := readSpool(io.LimitReader(resp.Body, maxDownload+1), maxDownload)
	if errors.Is(err, errSpoolFull) {
		return nil, &UnsafeArchiveError{Reason: fmt.Sprintf("download exceeds the %s limit", humanSize(maxDownload))}
	}
	if err != nil {
		return nil, &transientError{fmt.Errorf("get %s: read body: %w", t.redacted, err)}
	}
	return body, nil
}

// permanentNetError reports failures that another attempt cannot fix: the
// server's certificate is not trusted, or the redirect was refused.
func permanentNetError(err error) bool {
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var cve *tls.CertificateVerificationError
	var rde *redirectError
	return errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) ||
		errors.As(err, &cve) || errors.As(err, &rde)
}

// redirectError is a redirect Fetch refuses to follow; err is ErrInsecure
// for a redirect to plain http.
type redirectError struct {
	msg string
	err error
}

func (e *redirectError) Error() string { return e.msg }
func (e *redirectError) Unwrap() error { return e.err }

func httpClient(opts Options) *http.Client {
	var c http.Client
	if opts.Client != nil {
		c = *opts.Client
	} else {
		c.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" && !(req.URL.Scheme == "http" && opts.AllowInsecure) {
			return &redirectError{fmt.Sprintf("redirect to %s refused: %v", Redact(req.URL.String()), ErrInsecure), ErrInsecure}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return &redirectError{msg: "stopped after 10 redirects"}
		}
		return nil
	}
	return &c
}

// humanSize formats a byte count for messages.
func humanSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
