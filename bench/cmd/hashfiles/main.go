// Command hashfiles is half of the status floor: the least a Go program
// must do with a migration directory, reading every file and SHA-256
// hashing it on 4 goroutines (issue 14's floor). The other half is one
// psql SELECT of the history table.
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

const workers = 4

func main() {
	dir := os.Args[1]
	ents, err := os.ReadDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	xs := make([]byte, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ents); i += workers {
				b, err := os.ReadFile(filepath.Join(dir, ents[i].Name()))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				sum := sha256.Sum256(b)
				xs[w] ^= sum[0]
			}
		}()
	}
	wg.Wait()
	var x byte
	for _, v := range xs {
		x ^= v
	}
	fmt.Println(len(ents), x)
}
