package remote_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/pgmig/pgmig/remote"
	"github.com/pgmig/pgmig/source"
)

func ExampleFetch() {
	// A release tarball with its migrations in one top folder.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, sql := range map[string]string{
		"shop-1.4.0/001_orders.sql": "CREATE TABLE orders (id bigint PRIMARY KEY);\n",
		"shop-1.4.0/README.md":      "ignored\n",
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(sql)), Typeflag: tar.TypeReg})
		tw.Write([]byte(sql))
	}
	tw.Close()
	zw.Close()
	archive := buf.Bytes()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(archive) }))
	defer srv.Close()

	pin := fmt.Sprintf("%x", sha256.Sum256(archive))
	ctx := context.Background()
	fsys, err := remote.Fetch(ctx, srv.URL+"/shop-1.4.0.tar.gz#sha256="+pin, remote.Options{
		Client: srv.Client(), // trusts the test server; nil uses the system's CA roots
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	migs, err := source.FromFS(fsys).Migrations(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range migs {
		fmt.Println(m.Version, m.Name)
	}

	// The same URL pinned to other bytes: nothing is unpacked.
	_, err = remote.Fetch(ctx, srv.URL+"/shop-1.4.0.tar.gz#sha256="+fmt.Sprintf("%064x", 0), remote.Options{Client: srv.Client()})
	var dm *remote.DigestMismatchError
	fmt.Println(errors.As(err, &dm))
	// Output:
	// 1 orders
	// true
}
