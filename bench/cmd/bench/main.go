// Command bench measures pgmig against the psql floor and against goose,
// golang-migrate, tern and dbmate, side by side in one run, and prints
// markdown tables of medians and ratios to the floor.
//
// Run it through bench/run.sh, which installs the peers and builds pgmig.
// It needs psql on PATH and a PostgreSQL server that lets the given role
// create databases. Every database it makes is named bench_* and dropped.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	server   = flag.String("url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "admin URL of the server to measure")
	runs     = flag.Int("runs", 5, "timed runs of each cell (the median is reported)")
	tools    = flag.String("tools", ".tools/bin", "directory holding goose, migrate and tern (dbmate: .tools/node_modules/.bin)")
	pgmigBin = flag.String("pgmig", "/tmp/pgmig", "pgmig binary")
	single   = flag.String("singletx", "/tmp/singletx", "engine-level --single-transaction program (used when the CLI lacks the flag)")
	hashBin  = flag.String("hashfiles", "/tmp/hashfiles", "the status floor's file-hashing program")
	sections = flag.String("only", "start,apply,trivial,status,rollback,rss,queries,fleet", "sections to run, comma-separated")
	sizes    = flag.String("sizes", "1,100,1000,10000", "N for the small-migration apply")
	big      = flag.Int("big", 10000, "N above which only the floor, pgmig and -peers-big run (apply and status)")
	peersBig = flag.String("peers-big", "", "peers also run at N > -big (comma-separated)")
	statusN  = flag.String("status-sizes", "10,1000,10000", "N applied for status, no-op up and the statement count")
	fleetN   = flag.Int("fleet-dbs", 200, "databases for the many-databases section")
	fleetM   = flag.Int("fleet-migrations", 20, "migrations per database there")
	fleetR   = flag.Int("fleet-runs", 3, "timed runs of each fleet cell")
	work     = flag.String("work", "", "scratch directory (default: a new temp dir, removed at the end)")
	peerList = flag.String("peers", "goose,golang-migrate,tern,dbmate", "peers to measure (comma-separated; empty: pgmig and the floor only)")
)

type kind int

const (
	small   kind = iota // a table and an index
	trivial             // one cheap statement
)

func upSQL(k kind, i int) string {
	if k == trivial {
		return "SELECT 1;"
	}
	return fmt.Sprintf("CREATE TABLE t%05d (id bigint NOT NULL, v text);\nCREATE INDEX t%05d_v ON t%05d (v);", i, i, i)
}

func downSQL(k kind, i int) string {
	if k == trivial {
		return "SELECT 1;"
	}
	return fmt.Sprintf("DROP TABLE t%05d;", i)
}

// A tool is one migration CLI: how its files look and how it is called.
type tool struct {
	name   string
	file   func(dir string, k kind, i int) // writes migration i (1-based)
	up     func(db, dir string) []string
	status func(db, dir string) []string
	down   func(db, dir string) []string // all the way down; nil when the tool has no such command
}

func write(dir, name, text string) {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		die(err)
	}
}

func dbURL(db string) string {
	u, err := url.Parse(*server)
	if err != nil {
		die(err)
	}
	u.Path = "/" + db
	return u.String()
}

func peer(name string) string {
	p := filepath.Join(*tools, name)
	if name == "dbmate" {
		p = filepath.Join(filepath.Dir(*tools), "node_modules", ".bin", "dbmate")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		die(err)
	}
	return abs
}

var (
	pgmigTool = tool{
		name: "pgmig",
		file: func(dir string, k kind, i int) {
			write(dir, fmt.Sprintf("%05d_m.sql", i), "-- pgmig:up\n"+upSQL(k, i)+"\n\n-- pgmig:down\n"+downSQL(k, i)+"\n")
		},
		up: func(db, dir string) []string { return []string{*pgmigBin, "up", "-q", "-d", dbURL(db), "-s", dir} },
		status: func(db, dir string) []string {
			return []string{*pgmigBin, "status", "--no-color", "-d", dbURL(db), "-s", dir}
		},
		down: func(db, dir string) []string {
			return []string{*pgmigBin, "rollback", "--all", "-q", "-d", dbURL(db), "-s", dir}
		},
	}
	gooseTool = tool{
		name: "goose",
		file: func(dir string, k kind, i int) {
			write(dir, fmt.Sprintf("%05d_m.sql", i), "-- +goose Up\n"+upSQL(k, i)+"\n\n-- +goose Down\n"+downSQL(k, i)+"\n")
		},
		up: func(db, dir string) []string {
			return []string{peer("goose"), "-dir", dir, "postgres", dbURL(db), "up"}
		},
		status: func(db, dir string) []string {
			return []string{peer("goose"), "-dir", dir, "postgres", dbURL(db), "status"}
		},
		down: func(db, dir string) []string {
			return []string{peer("goose"), "-dir", dir, "postgres", dbURL(db), "reset"}
		},
	}
	migrateTool = tool{
		name: "golang-migrate",
		file: func(dir string, k kind, i int) {
			write(dir, fmt.Sprintf("%d_m.up.sql", i), upSQL(k, i)+"\n")
			write(dir, fmt.Sprintf("%d_m.down.sql", i), downSQL(k, i)+"\n")
		},
		up: func(db, dir string) []string {
			return []string{peer("migrate"), "-path", dir, "-database", dbURL(db), "up"}
		},
		status: func(db, dir string) []string {
			return []string{peer("migrate"), "-path", dir, "-database", dbURL(db), "version"}
		},
		down: func(db, dir string) []string {
			return []string{peer("migrate"), "-path", dir, "-database", dbURL(db), "down", "-all"}
		},
	}
	ternTool = tool{
		name: "tern",
		file: func(dir string, k kind, i int) {
			write(dir, fmt.Sprintf("%05d_m.sql", i), upSQL(k, i)+"\n\n---- create above / drop below ----\n\n"+downSQL(k, i)+"\n")
		},
		up: func(db, dir string) []string {
			return []string{peer("tern"), "migrate", "-m", dir, "--conn-string", dbURL(db)}
		},
		status: func(db, dir string) []string {
			return []string{peer("tern"), "status", "-m", dir, "--conn-string", dbURL(db)}
		},
		down: func(db, dir string) []string {
			return []string{peer("tern"), "migrate", "-m", dir, "--conn-string", dbURL(db), "-d", "0"}
		},
	}
	dbmateTool = tool{
		name: "dbmate",
		file: func(dir string, k kind, i int) {
			write(dir, fmt.Sprintf("%05d_m.sql", i), "-- migrate:up\n"+upSQL(k, i)+"\n\n-- migrate:down\n"+downSQL(k, i)+"\n")
		},
		// migrate, not up: up would also create the database first.
		up: func(db, dir string) []string {
			return []string{peer("dbmate"), "--url", dbURL(db), "--migrations-dir", dir, "--no-dump-schema", "migrate"}
		},
		status: func(db, dir string) []string {
			return []string{peer("dbmate"), "--url", dbURL(db), "--migrations-dir", dir, "--no-dump-schema", "status"}
		},
	}
	peers = []tool{gooseTool, migrateTool, ternTool, dbmateTool}
)

// The floor: psql running the same SQL with the same transactions and
// history rows in one session.
const histDDL = `CREATE TABLE IF NOT EXISTS hist (
  version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(), duration_ms double precision NOT NULL DEFAULT 0,
  applied_by text NOT NULL DEFAULT current_user, success boolean NOT NULL DEFAULT true,
  error text, failed_statement integer);
`

func histInsert(k kind, i int) string {
	sum := sha256.Sum256([]byte(upSQL(k, i)))
	return fmt.Sprintf("INSERT INTO hist (version, name, checksum, applied_at, duration_ms, applied_by, success) VALUES (%d, 'm', '%s', now(), extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000, current_user, true)", i, hex.EncodeToString(sum[:]))
}

// floorScript writes the apply script; oneTrip joins each migration's
// BEGIN, SQL, history insert and COMMIT with psql's \; into one query.
func floorScript(path string, k kind, n int, oneTrip bool) {
	var b strings.Builder
	b.WriteString(histDDL)
	for i := 1; i <= n; i++ {
		if oneTrip {
			up := strings.TrimSuffix(strings.ReplaceAll(upSQL(k, i), ";\n", " \\; "), ";")
			fmt.Fprintf(&b, "BEGIN \\; %s \\; %s \\; COMMIT;\n", up, histInsert(k, i))
		} else {
			fmt.Fprintf(&b, "BEGIN;\n%s\n%s;\nCOMMIT;\n", upSQL(k, i), histInsert(k, i))
		}
	}
	write(filepath.Dir(path), filepath.Base(path), b.String())
}

func floorDownScript(path string, k kind, n int) {
	var b strings.Builder
	for i := n; i >= 1; i-- {
		fmt.Fprintf(&b, "BEGIN;\n%s\nDELETE FROM hist WHERE version = %d;\nCOMMIT;\n", downSQL(k, i), i)
	}
	write(filepath.Dir(path), filepath.Base(path), b.String())
}

func psql(db string, args ...string) []string {
	return append([]string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbURL(db)}, args...)
}

// ---- running and timing

func die(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func run(argv []string) time.Duration {
	d, err := tryRun(argv)
	if err != nil {
		die(err)
	}
	return d
}

// lastCPU is the CPU time (user + system, from getrusage through
// os.ProcessState) of the command tryRun ran last: the client's own, the
// server's not included. On a loaded machine it is the figure to trust.
var lastCPU time.Duration

// tryRun times argv, returning its failure with the tail of its stderr.
func tryRun(argv []string) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var errb bytes.Buffer
	cmd.Stderr = &errb // stdout stays nil: /dev/null
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	lastCPU = 0
	if cmd.ProcessState != nil {
		lastCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return d, fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, tail(errb.String()))
	}
	return d, nil
}

// failed holds, per "N/column", why a cell that may fail did.
var failed = map[string]string{}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

func admin(sql string) {
	run([]string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", *server, "-c", sql})
}

func query(db, sql string) string {
	out, err := exec.Command("psql", "-X", "-At", "-d", dbURL(db), "-c", sql).Output()
	if err != nil {
		die(fmt.Errorf("%s: %v", sql, err))
	}
	return strings.TrimSpace(string(out))
}

var dbSeq int

func freshDB() string {
	dbSeq++
	db := fmt.Sprintf("bench_%d_%d", os.Getpid(), dbSeq)
	admin("CREATE DATABASE " + db + " TEMPLATE template0")
	return db
}

func dropDB(db string) { admin("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)") }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func firstErrorLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "error:") {
			return strings.TrimSpace(l)
		}
	}
	return strings.SplitN(s, "\n", 2)[0]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e6) }

func ratio(d, floor time.Duration) string { return fmt.Sprintf("%.2f×", float64(d)/float64(floor)) }

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

var out = bufio.NewWriter(os.Stdout)

func say(format string, a ...any) {
	fmt.Fprintf(out, format+"\n", a...)
	out.Flush()
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s  [load %s] %s\n", time.Now().Format("15:04:05"), loadavg(), fmt.Sprintf(format, a...))
}

// cell is one row entry: a command measured over the runs.
type cell struct {
	name string
	ds   []time.Duration
}

// table prints one markdown table: one row per N, the floor, then each cell's ms and ratio.
func table(title, nLabel string, cols []string, rows []int, get func(n int, col string) []time.Duration) {
	say("\n### %s\n", title)
	head := "| " + nLabel + " | floor ms |"
	sep := "| ---: | ---: |"
	for _, c := range cols[1:] {
		head += " " + c + " ms | ratio |"
		sep += " ---: | ---: |"
	}
	say("%s\n%s", head, sep)
	var notes []string
	defer func() {
		for _, n := range notes {
			say("\nFailed: %s", n)
		}
	}()
	for _, n := range rows {
		f := get(n, cols[0])
		line := fmt.Sprintf("| %d | %s |", n, ms(median(f)))
		for _, c := range cols[1:] {
			ds := get(n, c)
			if why, ok := failed[fmt.Sprintf("%d/%s", n, c)]; ok && ds == nil {
				line += " failed | – |"
				notes = append(notes, fmt.Sprintf("N=%d, %s: %s", n, c, why))
				continue
			}
			if ds == nil {
				line += " – | – |"
				continue
			}
			line += fmt.Sprintf(" %s | %s |", ms(median(ds)), ratio(median(ds), median(f)))
		}
		say("%s", line)
	}
}

// ---- sections

type results map[int]map[string][]time.Duration

func (r results) add(n int, col string, d time.Duration) {
	if r[n] == nil {
		r[n] = map[string][]time.Duration{}
	}
	r[n][col] = append(r[n][col], d)
}

func (r results) get(n int, col string) []time.Duration { return r[n][col] }

// dirs writes one migration directory per tool for n migrations of kind k.
func dirs(base string, k kind, n int, ts []tool) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		d := filepath.Join(base, fmt.Sprintf("%s-%d-%d", t.name, k, n))
		if _, err := os.Stat(d); err != nil {
			if err := os.MkdirAll(d, 0o755); err != nil {
				die(err)
			}
			for i := 1; i <= n; i++ {
				t.file(d, k, i)
			}
		}
		m[t.name] = d
	}
	return m
}

func singleCmd(db, dir string) []string {
	if hasSingleFlag {
		return []string{*pgmigBin, "up", "-q", "--single-transaction", "-d", dbURL(db), "-s", dir}
	}
	return []string{*single, dbURL(db), dir}
}

var hasSingleFlag bool

// applyRuns times `up` of n migrations of kind k on a fresh database for
// each tool, the tools interleaved within each run.
func applyRuns(base string, k kind, n int, ts []tool, res results, oneTrip bool, cpu results) {
	d := dirs(base, k, n, ts)
	script := filepath.Join(base, fmt.Sprintf("floor-%d-%d-%v.sql", k, n, oneTrip))
	floorScript(script, k, n, oneTrip)
	type job struct {
		col  string
		argv func(db string) []string
	}
	jobs := []job{{"floor", func(db string) []string { return psql(db, "-f", script) }}}
	if k == trivial && oneTrip {
		plain := filepath.Join(base, fmt.Sprintf("floor-%d-%d-plain.sql", k, n))
		floorScript(plain, k, n, false)
		jobs = append(jobs, job{"psql, one statement a trip", func(db string) []string { return psql(db, "-f", plain) }})
	}
	for _, t := range ts {
		jobs = append(jobs, job{t.name, func(db string) []string { return t.up(db, d[t.name]) }})
		if t.name == "pgmig" {
			jobs = append(jobs, job{"pgmig single-tx", func(db string) []string { return singleCmd(db, d["pgmig"]) }})
		}
	}
	for r := 0; r < *runs; r++ {
		// Rotate the order so that no tool always runs first or last.
		for j := range jobs {
			jb := jobs[(j+r)%len(jobs)]
			key := fmt.Sprintf("%d/%s", n, jb.col)
			if _, ok := failed[key]; ok {
				continue
			}
			db := freshDB()
			dur, err := tryRun(jb.argv(db))
			used := lastCPU // before dropDB's psql replaces it
			dropDB(db)
			if err != nil {
				if jb.col != "pgmig single-tx" {
					die(err)
				}
				// One transaction of N DDL migrations can outgrow the
				// server's lock table: a result, not a bench failure.
				failed[key] = firstErrorLine(err.Error())
				progress("%s failed: %s", key, failed[key])
				continue
			}
			res.add(n, jb.col, dur)
			if cpu != nil {
				cpu.add(n, jb.col, used)
			}
		}
		progress("apply kind=%d n=%d run %d/%d done", k, n, r+1, *runs)
	}
}

func toolsFor(n int) []tool {
	ts := []tool{pgmigTool}
	for _, p := range peers {
		if !slices.Contains(strings.Split(*peerList, ","), p.name) {
			continue
		}
		if n <= *big || slices.Contains(strings.Split(*peersBig, ","), p.name) {
			ts = append(ts, p)
		}
	}
	return ts
}

func cols(ts []tool, extra ...string) []string {
	c := []string{"floor"}
	for _, t := range ts {
		c = append(c, t.name)
		if t.name == "pgmig" {
			c = append(c, "pgmig single-tx")
		}
	}
	return append(c, extra...)
}

func sectionApply(base string) {
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			die(err)
		}
		ns = append(ns, n)
	}
	res := results{}
	allTs := toolsFor(0)
	for _, n := range ns {
		progress("apply small n=%d", n)
		applyRuns(base, small, n, toolsFor(n), res, false, nil)
	}
	table("Apply N small migrations (a table and an index each), fresh database", "N", cols(allTs), ns, res.get)
	say("\nPer migration (median ms / N), for linearity:\n")
	say("| N | floor | pgmig | pgmig single-tx |\n| ---: | ---: | ---: | ---: |")
	for _, n := range ns {
		per := func(col string) string {
			ds := res.get(n, col)
			if ds == nil {
				return "–"
			}
			return fmt.Sprintf("%.3f", float64(median(ds))/1e6/float64(n))
		}
		say("| %d | %s | %s | %s |", n, per("floor"), per("pgmig"), per("pgmig single-tx"))
	}
}

func sectionTrivial(base string) {
	res, cpu := results{}, results{}
	ts := toolsFor(1000)
	progress("apply trivial n=1000")
	applyRuns(base, trivial, 1000, ts, res, true, cpu)
	table("Apply 1,000 trivial migrations (`SELECT 1;` each); floor: one round trip per migration (`BEGIN \\; SELECT 1 \\; INSERT … \\; COMMIT;`)",
		"N", cols(ts, "psql, one statement a trip"), []int{1000}, res.get)
	table("The same runs' client CPU time (user + sys of the client process; the server's is not in it)",
		"N", cols(ts, "psql, one statement a trip"), []int{1000}, cpu.get)
}

// sectionStatus times status and a no-op up against n applied trivial
// migrations, each tool on its own database set up once by its own up.
func intList(s string) []int {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			die(err)
		}
		ns = append(ns, n)
	}
	return ns
}

func sectionStatus(base string) {
	ns := intList(*statusN)
	st, noop := results{}, results{}
	parts := results{}
	stCPU, noopCPU, partsCPU := results{}, results{}, results{}
	for _, n := range ns {
		ts := toolsFor(n)
		d := dirs(base, trivial, n, ts)
		script := filepath.Join(base, fmt.Sprintf("floor-status-%d.sql", n))
		floorScript(script, trivial, n, true)
		dbs := map[string]string{}
		progress("status setup n=%d", n)
		fdb := freshDB()
		run(psql(fdb, "-f", script))
		for _, t := range ts {
			dbs[t.name] = freshDB()
			run(t.up(dbs[t.name], d[t.name]))
		}
		// Issue 14's floor: what a careful client needs, the history
		// read and dropped by psql, and the files read and hashed by a
		// minimal Go program on 4 goroutines.
		selectAll := []string{"psql", "-X", "-A", "-t", "-o", "/dev/null", "-d", dbURL(fdb), "-c", "SELECT * FROM hist ORDER BY version"}
		hash := []string{*hashBin, d["pgmig"]}
		jsonStatus := append(pgmigTool.status(dbs["pgmig"], d["pgmig"]), "--format", "json")
		for r := 0; r < *runs; r++ {
			a := run(selectAll)
			ac := lastCPU
			b := run(hash)
			bc := lastCPU
			for _, res := range []results{st, noop} {
				res.add(n, "floor", a+b)
			}
			for _, res := range []results{stCPU, noopCPU} {
				res.add(n, "floor", ac+bc)
			}
			parts.add(n, "select", a)
			parts.add(n, "hash", b)
			partsCPU.add(n, "select", ac)
			partsCPU.add(n, "hash", bc)
			for _, t := range ts {
				st.add(n, t.name, run(t.status(dbs[t.name], d[t.name])))
				stCPU.add(n, t.name, lastCPU)
				noop.add(n, t.name, run(t.up(dbs[t.name], d[t.name])))
				noopCPU.add(n, t.name, lastCPU)
				if t.name == "pgmig" {
					st.add(n, "pgmig --format json", run(jsonStatus))
					stCPU.add(n, "pgmig --format json", lastCPU)
				}
			}
		}
		dropDB(fdb)
		for _, db := range dbs {
			dropDB(db)
		}
		progress("status n=%d done", n)
	}
	c := cols(toolsFor(0))
	c = slices.DeleteFunc(c, func(s string) bool { return s == "pgmig single-tx" })
	sc := slices.Insert(slices.Clone(c), 2, "pgmig --format json")
	const floorNote = "; floor: `psql -X -A -t -o /dev/null -c 'SELECT * FROM hist ORDER BY version'` + reading and SHA-256 hashing the N files on 4 goroutines (bench/cmd/hashfiles)"
	table("`status` with N applied (golang-migrate: `version`, it has no status)"+floorNote, "N applied", sc, ns, st.get)
	table("The same `status` runs' client CPU time (user + sys; the server's is not in it)", "N applied", sc, ns, stCPU.get)
	table("No-op `up` with N applied", "N applied", c, ns, noop.get)
	table("The same no-op `up` runs' client CPU time", "N applied", c, ns, noopCPU.get)
	say("\nFloor parts (median ms, wall / CPU): psql `SELECT * FROM hist` / reading and SHA-256 hashing the N files:\n")
	for _, n := range ns {
		say("- N=%d: %s / %s (CPU %s / %s)", n, ms(median(parts.get(n, "select"))), ms(median(parts.get(n, "hash"))),
			ms(median(partsCPU.get(n, "select"))), ms(median(partsCPU.get(n, "hash"))))
	}
}

func sectionRollback(base string) {
	const n = 100
	res := results{}
	ts := []tool{pgmigTool, gooseTool, migrateTool, ternTool}
	d := dirs(base, small, n, ts)
	up := filepath.Join(base, "floor-rb-up.sql")
	down := filepath.Join(base, "floor-rb-down.sql")
	floorScript(up, small, n, false)
	floorDownScript(down, small, n)
	for r := 0; r < *runs; r++ {
		db := freshDB()
		run(psql(db, "-f", up))
		res.add(n, "floor", run(psql(db, "-f", down)))
		dropDB(db)
		for _, t := range ts {
			db := freshDB()
			run(t.up(db, d[t.name]))
			res.add(n, t.name, run(t.down(db, d[t.name])))
			dropDB(db)
		}
		progress("rollback run %d/%d", r+1, *runs)
	}
	c := []string{"floor", "pgmig", "goose", "golang-migrate", "tern"}
	table("Roll back all of 100 small migrations (pgmig `rollback --all`, goose `reset`, golang-migrate `down -all`, tern `migrate -d 0`; dbmate rolls back one per call)", "N", c, []int{n}, res.get)
}

func sectionStart() {
	var a, b []time.Duration
	for i := 0; i < 21; i++ {
		a = append(a, run([]string{*pgmigBin, "version"}))
		b = append(b, run([]string{"psql", "--version"}))
	}
	fi, err := os.Stat(*pgmigBin)
	if err != nil {
		die(err)
	}
	say("\n### Process start and size\n")
	say("| what | median ms (21 runs) |\n| --- | ---: |")
	say("| `psql --version` | %.2f |\n| `pgmig version` | %.2f |", float64(median(b))/1e6, float64(median(a))/1e6)
	say("\nBinary: %s bytes (%.1f MiB).", strconv.FormatInt(fi.Size(), 10), float64(fi.Size())/(1<<20))
}

// maxRSS runs argv under /usr/bin/time -v and returns the peak RSS in
// kB, also when it fails.
func maxRSS(argv []string) int {
	cmd := exec.Command("/usr/bin/time", append([]string{"-v"}, argv...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		progress("%v: %v (peak memory still reported)", argv[1:3], err)
	}
	m := regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`).FindStringSubmatch(errb.String())
	if m == nil {
		die(fmt.Errorf("no max RSS in /usr/bin/time output"))
	}
	kb, _ := strconv.Atoi(m[1])
	return kb
}

func sectionRSS(base string) {
	n := slices.Max(intList(*sizes))
	d := dirs(base, small, n, []tool{pgmigTool})
	db := freshDB()
	up := maxRSS(pgmigTool.up(db, d["pgmig"]))
	stat := maxRSS(pgmigTool.status(db, d["pgmig"]))
	noop := maxRSS(pgmigTool.up(db, d["pgmig"]))
	dropDB(db)
	db = freshDB()
	sgl := maxRSS(singleCmd(db, d["pgmig"]))
	dropDB(db)
	say("\n### Peak memory at N = %d (`/usr/bin/time -v`, maximum resident set size)\n", n)
	say("| command | max RSS MiB |\n| --- | ---: |")
	say("| `pgmig up` (%d small migrations) | %.1f |", n, float64(up)/1024)
	say("| `pgmig status` | %.1f |", float64(stat)/1024)
	say("| `pgmig up`, nothing pending | %.1f |", float64(noop)/1024)
	say("| `pgmig up --single-transaction` (%d at once; fails at 10,000 small ones, see above) | %.1f |", n, float64(sgl)/1024)
}

// sectionQueries counts the statements pgmig sends for status and a no-op
// up, with log_statement = all set on the database, from the server log.
func sectionQueries(base string) {
	logf := os.Getenv("PG_LOG")
	if logf == "" {
		logf = "/var/log/postgresql/postgresql-15-main.log"
	}
	if _, err := os.Stat(logf); err != nil {
		say("\n(queries section skipped: no server log at %s; set PG_LOG)", logf)
		return
	}
	say("\n### Statements sent, counted with `log_statement = all` (server log)\n")
	say("| N applied | `status` | no-op `up` | `up` of N (statements per migration) |\n| ---: | ---: | ---: | ---: |")
	for _, n := range intList(*statusN) {
		d := dirs(base, trivial, n, []tool{pgmigTool})
		db := freshDB()
		admin("ALTER DATABASE " + db + " SET log_statement = 'all'")
		count := func(argv []string) int {
			before := fileSize(logf)
			run(argv)
			time.Sleep(300 * time.Millisecond)
			return countLog(logf, before, db)
		}
		upN := count(pgmigTool.up(db, d["pgmig"]))
		s := count(pgmigTool.status(db, d["pgmig"]))
		u := count(pgmigTool.up(db, d["pgmig"]))
		dropDB(db)
		say("| %d | %d | %d | %d (%.2f) |", n, s, u, upN, float64(upN)/float64(n))
	}
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		die(err)
	}
	return fi.Size()
}

func countLog(p string, from int64, db string) int {
	f, err := os.Open(p)
	if err != nil {
		die(err)
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		die(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	n := 0
	tag := "@" + db + " LOG:  "
	for sc.Scan() {
		l := sc.Text()
		if i := strings.Index(l, tag); i >= 0 {
			rest := l[i+len(tag):]
			if strings.HasPrefix(rest, "statement: ") || strings.HasPrefix(rest, "execute ") {
				n++
			}
		}
	}
	return n
}

// cpuTimes reads the machine's busy and total jiffies and iowait.
func cpuTimes() (busy, total, iowait int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		die(err)
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:]
	for i, s := range f {
		v, _ := strconv.ParseInt(s, 10, 64)
		total += v
		switch i {
		case 3: // idle
		case 4:
			iowait = v
		default:
			busy += v
		}
	}
	return
}

// walStats reads the WAL syncs so far (pg_stat_wal, flushed by backends
// within a second or so) and the WAL position in bytes (exact).
func walStats() (syncs, records, bytes float64) {
	s := query("postgres", "SELECT wal_sync, wal_records, pg_current_wal_lsn() - '0/0' FROM pg_stat_wal")
	f := strings.Split(s, "|")
	syncs, _ = strconv.ParseFloat(f[0], 64)
	records, _ = strconv.ParseFloat(f[1], 64)
	bytes, _ = strconv.ParseFloat(f[2], 64)
	return
}

func sectionFleet(base string) {
	n, m := *fleetN, *fleetM
	d := dirs(base, small, m, []tool{pgmigTool})
	var dbsList []string
	progress("fleet: creating %d databases", n)
	for i := 0; i < n; i++ {
		dbsList = append(dbsList, freshDB())
	}
	defer func() {
		for _, db := range dbsList {
			dropDB(db)
		}
	}()
	targets := filepath.Join(base, "targets.txt")
	var tb strings.Builder
	for _, db := range dbsList {
		tb.WriteString(dbURL(db) + "\n")
	}
	write(base, "targets.txt", tb.String())
	// reset empties every database in one psql session.
	var rb strings.Builder
	for _, db := range dbsList {
		fmt.Fprintf(&rb, "\\c %s\nDROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n", dbURL(db))
	}
	write(base, "reset.sql", rb.String())
	reset := func() {
		run([]string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", *server, "-f", filepath.Join(base, "reset.sql")})
	}
	// The floor: one psql session walking the databases with the same
	// per-migration transactions.
	floorScript(filepath.Join(base, "fleet-one.sql"), small, m, false)
	one, _ := os.ReadFile(filepath.Join(base, "fleet-one.sql"))
	var fb strings.Builder
	for _, db := range dbsList {
		fmt.Fprintf(&fb, "\\c %s\n%s", dbURL(db), one)
	}
	write(base, "fleet-floor.sql", fb.String())
	type stat struct {
		ds                     []time.Duration
		cpu, iow, syncs, bytes []float64
	}
	cells := []string{"psql floor (sequential)", "pgmig --parallel 1", "pgmig --parallel 2", "pgmig --parallel 4", "pgmig --parallel 8"}
	argv := map[string][]string{
		"psql floor (sequential)": {"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", *server, "-f", filepath.Join(base, "fleet-floor.sql")},
	}
	for _, p := range []int{1, 2, 4, 8} {
		argv[fmt.Sprintf("pgmig --parallel %d", p)] = []string{*pgmigBin, "up", "-q", "--targets", targets, "--parallel", strconv.Itoa(p), "-s", d["pgmig"]}
	}
	stats := map[string]*stat{}
	for r := 0; r < *fleetR; r++ {
		for j := range cells {
			c := cells[(j+r)%len(cells)]
			reset()
			b0, t0, w0 := cpuTimes()
			s0, _, by0 := walStats()
			dur := run(argv[c])
			b1, t1, w1 := cpuTimes()
			s1, _, by1 := walStats()
			st := stats[c]
			if st == nil {
				st = &stat{}
				stats[c] = st
			}
			st.ds = append(st.ds, dur)
			st.cpu = append(st.cpu, 100*float64(b1-b0)/float64(t1-t0))
			st.iow = append(st.iow, 100*float64(w1-w0)/float64(t1-t0))
			st.syncs = append(st.syncs, (s1-s0)/dur.Seconds())
			st.bytes = append(st.bytes, (by1-by0)/dur.Seconds()/(1<<20))
		}
		progress("fleet run %d/%d", r+1, *fleetR)
	}
	reset()
	say("\n### Many databases: %d databases × %d small migrations (medians of %d runs)\n", n, m, *fleetR)
	say("| run | wall ms | speed-up vs --parallel 1 | CPU busy %% (2 cores) | iowait %% | WAL syncs/s | WAL MiB/s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	base1 := median(stats["pgmig --parallel 1"].ds)
	for _, c := range cells {
		st := stats[c]
		say("| %s | %s | %.2f× | %.0f | %.0f | %.0f | %.1f |", c, ms(median(st.ds)), float64(base1)/float64(median(st.ds)),
			medf(st.cpu), medf(st.iow), medf(st.syncs), medf(st.bytes))
	}
	say("\nmax_connections = %s; --parallel 8 holds at most 16 connections (two per target: work and lock).", query("postgres", "SHOW max_connections"))
}

func medf(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	return s[len(s)/2]
}

func main() {
	flag.Parse()
	base := *work
	if base == "" {
		var err error
		base, err = os.MkdirTemp("", "pgmig-bench-")
		if err != nil {
			die(err)
		}
		defer os.RemoveAll(base)
	}
	help, _ := exec.Command(*pgmigBin, "up", "--help").CombinedOutput()
	hasSingleFlag = bytes.Contains(help, []byte("--single-transaction"))
	ver := query("postgres", "SELECT version()")
	say("## Run of %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	say("- server: %s (fsync %s, synchronous_commit %s, wal_sync_method %s)", ver,
		query("postgres", "SHOW fsync"), query("postgres", "SHOW synchronous_commit"), query("postgres", "SHOW wal_sync_method"))
	say("- load average at start: %s; %d timed runs per cell, medians", loadavg(), *runs)
	if hasSingleFlag {
		say("- single-tx: `pgmig up --single-transaction`")
	} else {
		say("- single-tx: the CLI has no `--single-transaction` flag yet; measured through the engine (`runner.UpOptions{SingleTransaction: true}`, bench/cmd/singletx)")
	}
	for _, s := range strings.Split(*sections, ",") {
		start := time.Now()
		progress("section %s", s)
		switch s {
		case "start":
			sectionStart()
		case "apply":
			sectionApply(base)
		case "trivial":
			sectionTrivial(base)
		case "status":
			sectionStatus(base)
		case "rollback":
			sectionRollback(base)
		case "rss":
			sectionRSS(base)
		case "queries":
			sectionQueries(base)
		case "fleet":
			sectionFleet(base)
		default:
			die(fmt.Errorf("unknown section %q", s))
		}
		say("\n(section %s: %.0f s, load average after: %s)", s, time.Since(start).Seconds(), loadavg())
	}
}
