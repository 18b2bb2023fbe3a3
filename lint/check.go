package lint

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// statement checks one parsed statement and records what it creates.
func (l *linter) statement(s *sectionState, cur stmt, raw node) {
	tag, n := tagged(raw)
	l.enumUse(s, cur, tag, n)
	l.identifiers(s, cur, n)
	switch tag {
	case "CreateStmt":
		l.createTable(s, cur, n)
	case "CreateTableAsStmt":
		if rel := sub(sub(n, "into"), "rel"); rel != nil {
			l.tables[relKey(rel)] = l.file
		}
	case "CreateSchemaStmt":
		l.schemas[str(n, "schemaname")] = l.file
	case "IndexStmt":
		l.createIndex(s, cur, n)
	case "DropStmt":
		l.drop(s, cur, n)
	case "DropdbStmt":
		l.reportf(s, cur, RuleDropDatabase, "DROP DATABASE %q", str(n, "dbname"))
	case "AlterTableStmt":
		l.alterTable(s, cur, n)
	case "RenameStmt":
		l.rename(s, cur, n)
	case "VacuumStmt":
		l.vacuum(s, cur, n)
	case "ClusterStmt":
		rel := sub(n, "relation")
		switch {
		case rel == nil:
			l.reportf(s, cur, RuleCluster, "CLUSTER of every clustered table rewrites each under ACCESS EXCLUSIVE")
			l.locks(s, cur, "CLUSTER")
		case l.existing(rel):
			l.reportf(s, cur, RuleCluster, "CLUSTER rewrites existing table %q under ACCESS EXCLUSIVE", relName(rel))
			l.locks(s, cur, "CLUSTER")
		}
	case "ReindexStmt":
		l.reindex(s, cur, n)
	case "TransactionStmt":
		l.transaction(s, cur, n)
	case "AlterEnumStmt":
		if v := str(n, "newVal"); v != "" && str(n, "oldVal") == "" && s.tx {
			s.enumValues[v] = cur.line
		}
	case "VariableSetStmt":
		if str(n, "name") == "lock_timeout" {
			s.lockTimeout = str(n, "kind") == "VAR_SET_VALUE" && !zeroSetting(list(n, "args"))
		}
	case "SelectStmt":
		// SELECT set_config('lock_timeout', '5s', …) sets it too.
		walk(n, func(tag string, f node) {
			if tag != "FuncCall" || last(names(list(f, "funcname"))) != "set_config" {
				return
			}
			if args := list(f, "args"); len(args) >= 2 && constString(args[0]) == "lock_timeout" {
				s.lockTimeout = !zeroSetting(args[1:2])
			}
		})
	case "TruncateStmt":
		for _, r := range list(n, "relations") {
			if _, rel := tagged(r); rel != nil && l.existing(rel) {
				l.locks(s, cur, "TRUNCATE")
			}
		}
	case "CreateTrigStmt":
		if rel := sub(n, "relation"); rel != nil && l.existing(rel) {
			l.locks(s, cur, "CREATE TRIGGER")
		}
	}
}

// relKey names a table for tracking: schema-qualified unless in public.
func relKey(rv node) string {
	return qualify(str(rv, "schemaname"), str(rv, "relname"))
}

func qualify(schema, name string) string {
	if schema == "" || schema == "public" {
		return name
	}
	return schema + "." + name
}

func relName(rv node) string {
	if s := str(rv, "schemaname"); s != "" {
		return s + "." + str(rv, "relname")
	}
	return str(rv, "relname")
}

// existing reports whether the table rv existed before the migration being
// checked: an earlier migration created it, or none did. A table created
// in the same migration, or a temporary one, is new.
func (l *linter) existing(rv node) bool {
	if str(rv, "relpersistence") == "t" {
		return false
	}
	f, ok := l.tables[relKey(rv)]
	return !ok || f < l.file
}

// locks notes a statement that takes a lock on an existing table: without
// lock_timeout it may queue every query on that table behind it.
func (l *linter) locks(s *sectionState, cur stmt, what string) {
	if s.lockTimeout || s.lockReported {
		return
	}
	s.lockReported = true
	where := "this section sets none and pgmig sets none for it"
	if s.tx {
		where = "the section has no -- pgmig:lock-timeout, the run no " + l.name(OptionDDLLockTimeout) + ", and no SET lock_timeout comes first"
	} else {
		where = "pgmig sets none in a -- pgmig:no-transaction section, and no SET lock_timeout comes first"
	}
	l.reportf(s, cur, RuleNoLockTimeout, "%s locks an existing table without lock_timeout: %s", what, where)
}

func (l *linter) createTable(s *sectionState, cur stmt, n node) {
	rel := sub(n, "relation")
	l.tables[relKey(rel)] = l.file
	types := map[string]string{}
	for _, e := range list(n, "tableElts") {
		tag, f := tagged(e)
		switch tag {
		case "ColumnDef":
			types[str(f, "colname")] = l.columnTypes(s, cur, f, hasConstraint(f, "CONSTR_PRIMARY"))
		case "Constraint":
			if str(f, "contype") == "CONSTR_PRIMARY" {
				for _, k := range names(list(f, "keys")) {
					l.intKey(s, cur, k, types[k])
				}
			}
		}
	}
}

// columnTypes checks a column's type and returns its name.
func (l *linter) columnTypes(s *sectionState, cur stmt, cd node, key bool) string {
	typ := typeName(cd)
	col := str(cd, "colname")
	switch typ {
	case "timestamp":
		l.reportf(s, cur, RuleTimestampWithoutTZ, "column %q is timestamp without time zone", col)
	case "bpchar":
		l.reportf(s, cur, RuleChar, "column %q is char(n)", col)
	}
	if key {
		l.intKey(s, cur, col, typ)
	}
	return typ
}

func (l *linter) intKey(s *sectionState, cur stmt, col, typ string) {
	switch typ {
	case "int2", "int4", "serial", "serial4", "smallserial", "serial2":
		l.reportf(s, cur, RuleIntKey, "key column %q is %s", col, map[string]string{
			"int2": "smallint", "int4": "integer", "serial": "serial", "serial4": "serial", "smallserial": "smallserial", "serial2": "smallserial"}[typ])
	case "bigserial", "serial8":
		l.reportf(s, cur, RuleIntKey, "key column %q is bigserial: its sequence is a separate object with its own grants; identity columns are the SQL standard", col)
	}
}

// typeName returns the last part of a ColumnDef's type name, lower case,
// as the parser resolves it: "int4" for integer, "bpchar" for char(n).
func typeName(cd node) string {
	return last(names(list(sub(cd, "typeName"), "names")))
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

func hasConstraint(cd node, contype string) bool {
	for _, c := range list(cd, "constraints") {
		if _, f := tagged(c); str(f, "contype") == contype {
			return true
		}
	}
	return false
}

func (l *linter) createIndex(s *sectionState, cur stmt, n node) {
	rel := sub(n, "relation")
	if name := str(n, "idxname"); name != "" {
		l.indexes[qualify(str(rel, "schemaname"), name)] = l.file
	}
	switch {
	case flag(n, "concurrent") && s.tx:
		l.reportf(s, cur, RuleConcurrentlyInTx, "CREATE INDEX CONCURRENTLY cannot run inside the transaction pgmig runs this section in")
	case !flag(n, "concurrent") && l.existing(rel):
		l.reportf(s, cur, RuleIndexNotConcurrent, "CREATE INDEX on existing table %q blocks writes for the whole build", relName(rel))
		l.locks(s, cur, "CREATE INDEX")
	}
}

func (l *linter) drop(s *sectionState, cur stmt, n node) {
	for _, o := range list(n, "objects") {
		parts := names([]any{o})
		if t, f := tagged(o); t == "List" {
			parts = names(list(f, "items"))
		}
		if len(parts) == 0 {
			continue
		}
		schema, name := "", parts[len(parts)-1]
		if len(parts) > 1 {
			schema = parts[len(parts)-2]
		}
		key := qualify(schema, name)
		switch str(n, "removeType") {
		case "OBJECT_INDEX":
			f, created := l.indexes[key]
			delete(l.indexes, key)
			switch {
			case flag(n, "concurrent") && s.tx:
				l.reportf(s, cur, RuleConcurrentlyInTx, "DROP INDEX CONCURRENTLY cannot run inside the transaction pgmig runs this section in")
			case !flag(n, "concurrent") && (!created || f < l.file):
				l.reportf(s, cur, RuleIndexNotConcurrent, "DROP INDEX %q without CONCURRENTLY blocks reads and writes of its table", key)
				l.locks(s, cur, "DROP INDEX")
			}
		case "OBJECT_TABLE":
			f, created := l.tables[key]
			delete(l.tables, key)
			if !created || f < l.file {
				l.reportf(s, cur, RuleDropTable, "DROP TABLE %q", key)
				l.locks(s, cur, "DROP TABLE")
			}
		case "OBJECT_SCHEMA":
			if f, created := l.schemas[name]; !created || f < l.file {
				l.reportf(s, cur, RuleDropSchema, "DROP SCHEMA %q", name)
			}
			delete(l.schemas, name)
		}
	}
}

func (l *linter) alterTable(s *sectionState, cur stmt, n node) {
	if t := str(n, "objtype"); t != "OBJECT_TABLE" && t != "" {
		return
	}
	rel := sub(n, "relation")
	old, table, key := l.existing(rel), relName(rel), relKey(rel)
	for _, c := range list(n, "cmds") {
		_, cmd := tagged(c)
		col := str(cmd, "name")
		switch str(cmd, "subtype") {
		case "AT_AddColumn":
			l.addColumn(s, cur, rel, sub(cmd, "def"), old)
		case "AT_AddConstraint":
			con := sub(cmd, "def")
			name := str(con, "conname")
			switch ct := str(con, "contype"); ct {
			case "CONSTR_CHECK", "CONSTR_FOREIGN":
				if ct == "CONSTR_CHECK" {
					if c := notNullColumn(sub(con, "raw_expr")); c != "" && name != "" {
						if l.checks[key] == nil {
							l.checks[key] = map[string]*notNullCheck{}
						}
						l.checks[key][name] = &notNullCheck{col: c, validated: !flag(con, "skip_validation")}
					}
				}
				switch {
				case flag(con, "skip_validation") && s.tx:
					s.notValid[key+"."+name] = true
				case !flag(con, "skip_validation") && old:
					l.reportf(s, cur, RuleConstraintNotValid, "ADD CONSTRAINT %s on existing table %q without NOT VALID scans it while blocking writes", conKind(ct, name), table)
				}
			case "CONSTR_UNIQUE", "CONSTR_PRIMARY", "CONSTR_EXCLUSION":
				if old && str(con, "indexname") == "" {
					l.reportf(s, cur, RuleUniqueConstraint, "ADD CONSTRAINT %s on existing table %q builds its index under ACCESS EXCLUSIVE", conKind(ct, name), table)
				}
			}
		case "AT_ValidateConstraint":
			if s.notValid[key+"."+col] {
				l.reportf(s, cur, RuleConstraintNotValid, "VALIDATE CONSTRAINT %q in the transaction that added it NOT VALID: the ADD's ACCESS EXCLUSIVE lock is held through the scan", col)
			}
			if c := l.checks[key][col]; c != nil {
				c.validated = true
			}
		case "AT_SetNotNull":
			if old && !l.validatedNotNull(key, col) {
				l.reportf(s, cur, RuleSetNotNull, "SET NOT NULL on column %q of existing table %q scans it under ACCESS EXCLUSIVE: no validated CHECK (%s IS NOT NULL) comes first", col, table, col)
			}
		case "AT_AlterColumnType":
			l.columnTypes(s, cur, node{"colname": col, "typeName": sub(cmd, "def")["typeName"]}, false)
			if old {
				l.reportf(s, cur, RuleColumnTypeChange, "ALTER COLUMN %q TYPE on existing table %q rewrites it under ACCESS EXCLUSIVE", col, table)
			}
		case "AT_DropColumn":
			if old {
				l.reportf(s, cur, RuleDropColumn, "DROP COLUMN %q of table %q", col, table)
			}
		}
	}
	if old {
		l.locks(s, cur, "ALTER TABLE")
	}
}

func conKind(contype, name string) string {
	k := map[string]string{"CONSTR_CHECK": "CHECK", "CONSTR_FOREIGN": "FOREIGN KEY", "CONSTR_UNIQUE": "UNIQUE",
		"CONSTR_PRIMARY": "PRIMARY KEY", "CONSTR_EXCLUSION": "EXCLUDE"}[contype]
	if name != "" {
		return fmt.Sprintf("%q %s", name, k)
	}
	return k
}

// notNullColumn returns col for the expression "col IS NOT NULL".
func notNullColumn(expr node) string {
	if str(expr, "nulltesttype") != "IS_NOT_NULL" {
		return ""
	}
	if t, ref := tagged(expr["arg"]); t == "ColumnRef" {
		if f := names(list(ref, "fields")); len(f) == 1 {
			return f[0]
		}
	}
	return ""
}

func (l *linter) validatedNotNull(table, col string) bool {
	for _, c := range l.checks[table] {
		if c.col == col && c.validated {
			return true
		}
	}
	return false
}

func (l *linter) addColumn(s *sectionState, cur stmt, rel, cd node, old bool) {
	col, table := str(cd, "colname"), relName(rel)
	typ := l.columnTypes(s, cur, cd, hasConstraint(cd, "CONSTR_PRIMARY"))
	if !old {
		return
	}
	var hasDefault, notNull bool
	var rewrite string
	if strings.Contains(typ, "serial") {
		rewrite = typ + " (its default is nextval(), volatile)"
	}
	if cd["identity"] != nil || cd["generated"] != nil {
		rewrite = "an identity or generated column"
	}
	for _, c := range list(cd, "constraints") {
		_, con := tagged(c)
		switch ct := str(con, "contype"); ct {
		case "CONSTR_DEFAULT":
			hasDefault = true
			if fn := volatileCall(con["raw_expr"]); fn != "" && rewrite == "" {
				rewrite = "default " + fn + "()"
			}
		case "CONSTR_NOTNULL":
			notNull = true
		case "CONSTR_IDENTITY", "CONSTR_GENERATED":
			rewrite = "an identity or generated stored column"
		case "CONSTR_CHECK", "CONSTR_FOREIGN":
			l.reportf(s, cur, RuleConstraintNotValid, "ADD COLUMN %q with a %s constraint on existing table %q checks every row while blocking writes", col, conKind(ct, ""), table)
		case "CONSTR_UNIQUE", "CONSTR_PRIMARY":
			l.reportf(s, cur, RuleUniqueConstraint, "ADD COLUMN %q %s on existing table %q builds its index under ACCESS EXCLUSIVE", col, conKind(ct, ""), table)
		}
	}
	if rewrite != "" {
		l.reportf(s, cur, RuleVolatileDefault, "ADD COLUMN %q with %s rewrites existing table %q under ACCESS EXCLUSIVE", col, rewrite, table)
	} else if notNull && !hasDefault {
		l.reportf(s, cur, RuleNotNullNoDefault, "ADD COLUMN %q NOT NULL without a default on existing table %q fails if it has a row", col, table)
	}
}

// stableFuncs are functions whose result is fixed within a statement: as
// a column default they are evaluated once, without rewriting the table.
// Any other function is taken as volatile, since the linter cannot see
// how a user's function was declared.
var stableFuncs = map[string]bool{
	"now": true, "transaction_timestamp": true, "statement_timestamp": true, "current_setting": true,
	"lower": true, "upper": true, "length": true, "coalesce": true, "nullif": true, "abs": true,
	"make_date": true, "make_timestamp": true, "make_timestamptz": true, "make_interval": true,
	"jsonb_build_object": true, "json_build_object": true, "jsonb_build_array": true, "json_build_array": true,
	"to_jsonb": true, "to_json": true, "array_fill": true, "concat": true, "replace": true,
	"date_trunc": true, "timezone": true, "to_timestamp": true, "to_date": true, "format": true,
}

// StableInDefault reports whether the function name (unqualified, as
// PostgreSQL folds it) is one pgmig takes as fixed within a statement, so
// that a column default calling it adds the column without rewriting the
// table: what the lint rule checks and what diff's planner plans by.
func StableInDefault(name string) bool { return stableFuncs[name] }

// volatileCall returns the name of the first function in expr that may be
// volatile, or "".
func volatileCall(expr any) string {
	found := ""
	walk(expr, func(tag string, f node) {
		if tag == "FuncCall" && found == "" {
			if name := last(names(list(f, "funcname"))); !StableInDefault(name) {
				found = name
			}
		}
	})
	return found
}

func (l *linter) rename(s *sectionState, cur stmt, n node) {
	rel := sub(n, "relation")
	switch str(n, "renameType") {
	case "OBJECT_COLUMN":
		if str(n, "relationType") == "OBJECT_TABLE" && l.existing(rel) {
			l.reportf(s, cur, RuleRenameColumn, "RENAME COLUMN %q of table %q to %q", str(n, "subname"), relName(rel), str(n, "newname"))
			l.locks(s, cur, "RENAME COLUMN")
		}
	case "OBJECT_TABLE":
		key, newKey := relKey(rel), qualify(str(rel, "schemaname"), str(n, "newname"))
		if l.existing(rel) {
			l.reportf(s, cur, RuleRenameTable, "RENAME TABLE %q to %q", relName(rel), str(n, "newname"))
			l.locks(s, cur, "RENAME TABLE")
		}
		if f, ok := l.tables[key]; ok {
			l.tables[newKey] = f
			delete(l.tables, key)
		}
	case "OBJECT_INDEX":
		key, newKey := relKey(rel), qualify(str(rel, "schemaname"), str(n, "newname"))
		if f, ok := l.indexes[key]; ok {
			l.indexes[newKey] = f
			delete(l.indexes, key)
		}
	}
}

func (l *linter) vacuum(s *sectionState, cur stmt, n node) {
	if !flag(n, "is_vacuumcmd") || !hasOption(n, "full") {
		return
	}
	rels := list(n, "rels")
	if len(rels) == 0 {
		l.reportf(s, cur, RuleVacuumFull, "VACUUM FULL of the whole database rewrites every table under ACCESS EXCLUSIVE")
		l.locks(s, cur, "VACUUM FULL")
	}
	for _, r := range rels {
		_, vr := tagged(r)
		if rel := sub(vr, "relation"); rel != nil && l.existing(rel) {
			l.reportf(s, cur, RuleVacuumFull, "VACUUM FULL rewrites existing table %q under ACCESS EXCLUSIVE", relName(rel))
			l.locks(s, cur, "VACUUM FULL")
		}
	}
}

// hasOption reports whether the DefElem list "options" or "params" of n
// turns on the option name, as in VACUUM (FULL) or REINDEX (CONCURRENTLY).
func hasOption(n node, name string) bool {
	for _, key := range []string{"options", "params"} {
		for _, o := range list(n, key) {
			if _, d := tagged(o); str(d, "defname") == name {
				// "FULL false" turns it off.
				if arg := sub(d, "arg"); arg != nil && (str(arg, "sval") == "false" || str(arg, "sval") == "off") {
					return false
				}
				return true
			}
		}
	}
	return false
}

func (l *linter) reindex(s *sectionState, cur stmt, n node) {
	if hasOption(n, "concurrently") {
		if s.tx {
			l.reportf(s, cur, RuleConcurrentlyInTx, "REINDEX CONCURRENTLY cannot run inside the transaction pgmig runs this section in")
		}
		return
	}
	rel := sub(n, "relation")
	switch str(n, "kind") {
	case "REINDEX_OBJECT_TABLE":
		if !l.existing(rel) {
			return
		}
	case "REINDEX_OBJECT_INDEX":
		if f, ok := l.indexes[relKey(rel)]; ok && f == l.file {
			return
		}
	}
	l.reportf(s, cur, RuleIndexNotConcurrent, "REINDEX without CONCURRENTLY blocks writes to the table for the whole rebuild")
	l.locks(s, cur, "REINDEX")
}

func (l *linter) transaction(s *sectionState, cur stmt, n node) {
	kind := strings.TrimPrefix(str(n, "kind"), "TRANS_STMT_")
	switch kind {
	case "BEGIN", "START", "COMMIT", "ROLLBACK", "PREPARE", "COMMIT_PREPARED", "ROLLBACK_PREPARED":
	default:
		return // savepoints nest inside pgmig's transaction
	}
	word := strings.ReplaceAll(map[string]string{"START": "START TRANSACTION", "PREPARE": "PREPARE TRANSACTION"}[kind], "_", " ")
	if word == "" {
		word = strings.ReplaceAll(kind, "_", " ")
	}
	if s.tx {
		l.reportf(s, cur, RuleTransactionControl, "%s inside the transaction pgmig runs this section in", word)
	} else {
		l.reportf(s, cur, RuleTransactionControl, "%s inside a migration: a failure between BEGIN and COMMIT leaves a failed row and the transaction's fate to the session", word)
	}
}

// enumUse reports a statement using an enum value its transaction added.
func (l *linter) enumUse(s *sectionState, cur stmt, tag string, n node) {
	if len(s.enumValues) == 0 || tag == "AlterEnumStmt" {
		return
	}
	reported := map[string]bool{}
	walk(n, func(t string, f node) {
		if t != "A_Const" {
			return
		}
		v := str(sub(f, "sval"), "sval")
		if line, ok := s.enumValues[v]; ok && !reported[v] {
			reported[v] = true
			l.reportf(s, cur, RuleEnumValueInTx, "uses enum value %q, which ALTER TYPE … ADD VALUE on line %d added in the same transaction: it cannot be used before that commits", v, line)
		}
	})
}

// constString returns the text of a string constant node.
func constString(v any) string {
	if t, f := tagged(v); t == "A_Const" {
		return str(sub(f, "sval"), "sval")
	}
	return ""
}

// zeroSetting reports whether a SET's value turns the timeout off.
func zeroSetting(args []any) bool {
	if len(args) == 0 {
		return true
	}
	t, f := tagged(args[0])
	if t != "A_Const" {
		return false
	}
	if iv := sub(f, "ival"); iv != nil {
		return iv["ival"] == nil // 0 is left out of the JSON
	}
	switch strings.TrimSpace(str(sub(f, "sval"), "sval")) {
	case "0", "0ms", "0s", "0min":
		return true
	}
	return false
}

// identKeys are the fields of the parse tree that name something the
// statement may create.
var identKeys = []string{"relname", "colname", "idxname", "conname", "schemaname", "newname", "trigname"}

// identifiers reports names longer than PostgreSQL keeps (NAMEDATALEN-1).
// The parser has already cut them to 63 bytes, as the server does, so a
// name that long (or a few bytes shorter: the cut keeps characters whole)
// is looked up in the statement's text to see whether it went on.
func (l *linter) identifiers(s *sectionState, cur stmt, n node) {
	seen := map[string]bool{}
	var long []string
	var visit func(v any)
	visit = func(v any) {
		switch v := v.(type) {
		case node:
			for _, k := range identKeys {
				if id := str(v, k); len(id) > 63-utf8.UTFMax {
					if full := fullIdent(cur.text, id); len(full) > 63 && !seen[full] {
						seen[full] = true
						long = append(long, full)
					}
				}
			}
			for _, f := range v {
				visit(f)
			}
		case []any:
			for _, f := range v {
				visit(f)
			}
		}
	}
	visit(n)
	slices.Sort(long)
	for _, id := range long {
		l.reportf(s, cur, RuleIdentifierTooLong, "identifier %q is %d bytes; PostgreSQL keeps the first 63", id, len(id))
	}
}

// fullIdent finds the identifier that begins with prefix in text (case
// folded, as unquoted names are) and returns it whole.
func fullIdent(text, prefix string) string {
	lower, p := strings.ToLower(text), strings.ToLower(prefix)
	full := prefix
	for i := 0; ; {
		k := strings.Index(lower[i:], p)
		if k < 0 {
			return full
		}
		start := i + k
		end := start + len(p)
		for end < len(text) {
			r, size := utf8.DecodeRuneInString(text[end:])
			if !(r == '_' || r == '$' || r >= utf8.RuneSelf || unicode.IsLetter(r) || unicode.IsDigit(r)) {
				break
			}
			end += size
		}
		if end-start > len(full) {
			full = text[start:end]
		}
		i = start + 1
	}
}
