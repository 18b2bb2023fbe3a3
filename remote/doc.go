// Package remote fetches a migrations archive over HTTPS and unpacks its
// .sql files into an in-memory fs.FS, ready for source.FromFS.
//
// # Archives
//
// The archive type comes from the suffix of the URL's path: ".tar.gz" or
// ".tgz" (gzip-compressed tar) and ".zip"; the server's Content-Type is not
// trusted. The .sql files must sit at the archive's root or in one top
// folder, which then becomes the root (as in a GitHub release tarball).
// Other files are counted toward the limits but not read; .sql files in
// deeper folders are ignored, as source ignores subdirectories.
//
// An archive is refused, with an error naming the entry and matching
// ErrUnsafeArchive, when an entry's name holds "..", is absolute, holds a
// backslash or is not UTF-8; when an entry is a symlink, a hard link, a device, a fifo or
// any other non-regular file (directories aside); when a zip entry is
// encrypted; when a name appears twice; when entries sit in more than one
// top folder, or both at the root and in a folder; and when the download,
// the bytes actually decompressed or the number of entries exceed the
// limits in Options. Decompressed bytes are counted as they are produced,
// never taken from the archive's headers, so a zip bomb stops at the limit.
// A corrupt archive, and one with no .sql file where they belong, match
// ErrUnsafeArchive too: either way the source is bad.
//
// # Memory
//
// Fetch holds the download, in 256 KiB chunks as it arrives, and each .sql
// entry in one buffer of its size; nothing is copied or grown by
// doubling. Its peak is therefore at most MaxDownload plus MaxUnpacked
// (the download is released once unpacked) and a chunk: 320 MiB with the
// defaults. A response that does not end stops at MaxDownload.
//
// # Pinning
//
// A "#sha256=HEX" fragment (64 hex digits) pins the archive: the digest of
// the downloaded bytes is compared before anything is unpacked, and a
// mismatch is a *DigestMismatchError with nothing returned. The fragment is
// never sent to the server.
//
// # Transport
//
// Plain http:// is refused unless Options.AllowInsecure is set. Transient
// failures (network errors, 429 and 5xx responses) are retried with
// exponential backoff; other 4xx responses are not. The default client
// verifies the server against the system's CA roots, which Go reads on
// Linux from SSL_CERT_FILE and SSL_CERT_DIR when they are set. Every URL
// in an error or a log record goes through Redact, which hides passwords
// and signature-like query parameters of presigned URLs.
//
// # Usage
//
//	fsys, err := remote.Fetch(ctx, "https://example.com/m.tar.gz#sha256="+pin, remote.Options{
//		Timeout: time.Minute, // zero means 60s
//		Logger:  logger,      // nil discards
//	})
//	var dm *remote.DigestMismatchError
//	switch {
//	case errors.As(err, &dm), errors.Is(err, remote.ErrUnsafeArchive):
//		// the archive is not the one expected, or is hostile
//	case err != nil:
//		// a bad URL (ErrInvalidURL, ErrInsecure) or the network
//	}
//	migs, err := source.FromFS(fsys).Migrations(ctx)
package remote
