package doccheck

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// root is the repository, seen from this package's directory.
const root = "../.."

// readmeMax is the size README.md must stay within: past it, the reference
// belongs in docs/.
const readmeMax = 20_000

// pages returns the Markdown files whose links are checked, relative to root.
func pages(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("docs/ holds no .md file")
	}
	out := []string{"README.md", "CONTRIBUTING.md", "RELEASING.md"}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

var (
	linkRE    = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	codeRE    = regexp.MustCompile("`[^`]*`")
	headingRE = regexp.MustCompile(`^#{1,6} +(.*?)#*\s*$`)
)

// prose returns the lines of a Markdown text outside fenced code blocks,
// each with its 1-based line number.
func prose(text string) (lines []string, numbers []int) {
	fence := false
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fence = !fence
			continue
		}
		if !fence {
			lines = append(lines, l)
			numbers = append(numbers, i+1)
		}
	}
	return lines, numbers
}

// anchors returns the fragment GitHub gives each heading of text: lower
// case, punctuation dropped, spaces turned into hyphens, and -1, -2, … for
// repeats.
func anchors(text string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	lines, _ := prose(text)
	for _, l := range lines {
		m := headingRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			out[slug+"-"+strconv.Itoa(n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

func TestAnchors(t *testing.T) {
	t.Parallel()
	got := anchors("# pgmig\n## Other tools' migration files, and their history\n```\n# not a heading\n```\n### `pgmig up --lint`\n## Usage\n## Usage\n")
	want := []string{"pgmig", "other-tools-migration-files-and-their-history", "pgmig-up---lint", "usage", "usage-1"}
	if len(got) != len(want) {
		t.Errorf("anchors = %v, want %v", got, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("anchors lack %q: %v", w, got)
		}
	}
}

// TestRelativeLinksResolve checks that every relative link of every page
// names a file or directory that exists, and that a #fragment names a
// heading of the Markdown file it points into.
func TestRelativeLinksResolve(t *testing.T) {
	t.Parallel()
	for _, page := range pages(t) {
		t.Run(page, func(t *testing.T) {
			t.Parallel()
			text, err := os.ReadFile(filepath.Join(root, page))
			if err != nil {
				t.Fatal(err)
			}
			lines, numbers := prose(string(text))
			links := 0
			for i, l := range lines {
				for _, m := range linkRE.FindAllStringSubmatch(codeRE.ReplaceAllString(l, ""), -1) {
					target := m[1]
					if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
						continue
					}
					links++
					if msg := broken(page, string(text), target); msg != "" {
						t.Errorf("%s:%d: link %q: %s", page, numbers[i], target, msg)
					}
				}
			}
			if page == "README.md" && links == 0 {
				t.Error("README.md has no relative link; the parser missed them")
			}
		})
	}
}

// broken says what is wrong with a relative link target of page, or "".
func broken(page, text, target string) string {
	path, frag, _ := strings.Cut(target, "#")
	file := page
	if path != "" {
		file = filepath.ToSlash(filepath.Join(filepath.Dir(page), path))
		if _, err := os.Stat(filepath.Join(root, file)); err != nil {
			return "no such file " + file
		}
		if frag == "" {
			return ""
		}
		if !strings.HasSuffix(file, ".md") {
			return "a #fragment into a file that is not Markdown"
		}
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			return err.Error()
		}
		text = string(b)
	}
	if frag != "" && !anchors(text)[frag] {
		return "no heading #" + frag + " in " + file
	}
	return ""
}

// TestReadmeIsANewcomersPage keeps README.md short and every page of docs/
// one link away from it.
func TestReadmeIsANewcomersPage(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(text) > readmeMax {
		t.Errorf("README.md is %d bytes, over %d: move reference text into docs/", len(text), readmeMax)
	}
	var linked []string
	lines, _ := prose(string(text))
	for _, l := range lines {
		for _, m := range linkRE.FindAllStringSubmatch(l, -1) {
			path, _, _ := strings.Cut(m[1], "#")
			linked = append(linked, filepath.ToSlash(filepath.Clean(path)))
		}
	}
	for _, page := range pages(t) {
		if page != "README.md" && !slices.Contains(linked, page) {
			t.Errorf("README.md does not link to %s", page)
		}
	}
}
