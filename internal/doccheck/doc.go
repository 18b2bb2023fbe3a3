// Package doccheck holds the tests that keep the Markdown documentation
// honest: every relative link in README.md, CONTRIBUTING.md, RELEASING.md
// and docs/*.md leads to a file that exists (and, with a #fragment, to a
// heading in it), every page of docs/ is reachable from README.md, and
// README.md stays a newcomer's page of at most 20 KB.
//
// It has no code of its own: the checks are its tests.
package doccheck
