package redresssql

import (
	"context"
	"strings"
)

// txScopeKey is the context key of the *txScope RunInTx gives fn.
type txScopeKey struct{}

// txScope is what the calls inside a RunInTx transaction know of it.
type txScope struct {
	op     string // the transaction's operation (core.ContextWithOperation), or ""
	stmtOp string // op + "/stmt", the label of the calls inside; "" when op is
}

func newTxScope(op string) *txScope {
	s := &txScope{op: op}
	if op != "" {
		s.stmtOp = op + "/stmt"
	}
	return s
}

func scopeFrom(ctx context.Context) *txScope {
	s, _ := ctx.Value(txScopeKey{}).(*txScope)
	return s
}

// maxScan bounds how far into a statement the operation name is looked for.
const maxScan = 512

// DeriveOperation returns the low-cardinality operation name of a statement:
// its verb and its first table ("SELECT users", "INSERT orders",
// "UPDATE accounts", "DELETE sessions"), or its verb alone ("BEGIN", "SET",
// "CREATE"). It never returns literals, arguments or the rest of the text.
// Comments and leading whitespace are skipped; an empty or unreadable
// statement yields "QUERY".
func DeriveOperation(query string) string {
	return opName(scan(query))
}

// stmtInfo is what the wrapper reads from a statement's text.
type stmtInfo struct {
	verb  string // upper case, "" if none
	table string // first table, "" if none
	// multi is true when the text holds more than one statement (a ';'
	// followed by more text). Such a text is never retried after it was sent.
	multi bool
	// session is true when the text may open a transaction or change the
	// session (sessionVerb) or is multi: the connection's statements are
	// then never retried until the pool resets it.
	session bool
}

// sessionVerbs are the statements that can open a transaction or change the
// session: after one, the connection's statements are no longer retried until
// the pool resets the connection.
func sessionVerb(v string) bool {
	switch v {
	case "BEGIN", "START", "SET", "SAVEPOINT", "LOCK", "DECLARE", "PREPARE",
		"LISTEN", "USE", "CREATE", "DO", "CALL", "EXEC", "EXECUTE", "XA",
		"HANDLER", "ATTACH", "DETACH", "PRAGMA", "RELEASE", "COMMIT", "ROLLBACK", "END":
		return true
	}
	return false
}

func scan(q string) stmtInfo {
	var info stmtInfo
	i := skipSpace(q, 0)
	w, i := word(q, i)
	if w == "" {
		info.multi = hasMore(q, i)
		info.session = info.multi
		return info
	}
	info.verb = w
	switch w {
	case "SELECT", "DELETE":
		info.table = afterKeyword(q, i, "FROM")
	case "INSERT", "REPLACE":
		info.table = afterKeyword(q, i, "INTO")
	case "UPDATE":
		info.table = ident(q, skipSpace(q, i))
		if up(info.table) == "ONLY" { // UPDATE ONLY t
			j := skipSpace(q, i)
			_, j = word(q, j)
			info.table = ident(q, skipSpace(q, j))
		}
	case "MERGE":
		info.table = afterKeyword(q, i, "INTO")
	}
	info.multi = hasMore(q, i)
	info.session = info.multi || sessionVerb(info.verb)
	return info
}

func up(s string) string {
	b := []byte(nil)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			if b == nil {
				b = []byte(s)
			}
			b[i] = c - 32
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

// skipSpace skips whitespace, '(' and comments from i ("--" to the end of
// the line, "/* */" up to the first "*/").
func skipSpace(q string, i int) int {
	for i < len(q) {
		switch c := q[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(':
			i++
		default:
			j := plainSQL.comment(q, i)
			if j == i {
				return i
			}
			i = j
		}
	}
	return i
}

func indexFrom(q string, i int, sub string) int {
	for j := i; j+len(sub) <= len(q); j++ {
		if q[j:j+len(sub)] == sub {
			return j
		}
	}
	return -1
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// word reads a keyword at i, upper-cased.
func word(q string, i int) (string, int) {
	j := i
	for j < len(q) && isWordByte(q[j]) && j-i < 32 {
		j++
	}
	return up(q[i:j]), j
}

// ident reads a possibly qualified, possibly quoted identifier at i, without
// its quotes.
func ident(q string, i int) string {
	start := i
	var out []byte
	for i < len(q) && i-start < 128 {
		c := q[i]
		switch {
		case c == '"' || c == '`' || c == '[':
			end := byte(c)
			if c == '[' {
				end = ']'
			}
			j := i + 1
			for j < len(q) && q[j] != end {
				j++
			}
			out = append(out, q[i+1:min(j, len(q))]...)
			i = j + 1
		case isWordByte(c) || c == '.' || c == '$':
			out = append(out, c)
			i++
		default:
			return string(out)
		}
	}
	return string(out)
}

// afterKeyword returns the identifier that follows the first occurrence of
// the keyword kw at word level, outside quotes, in the first maxScan bytes.
func afterKeyword(q string, i int, kw string) string {
	limit := min(len(q), maxScan)
	for i < limit {
		c := q[i]
		switch {
		case c == '\'':
			i = skipString(q, i, '\'', false)
		case c == ';':
			return ""
		case isWordByte(c):
			w, j := word(q, i)
			if w == kw {
				t := ident(q, skipSpace(q, j))
				if t == "" {
					return ""
				}
				return t
			}
			for j < len(q) && isWordByte(q[j]) {
				j++
			}
			i = j
		default:
			i++
		}
	}
	return ""
}

// hasMore reports whether a ';' outside quotes and comments is followed by
// more than whitespace, comments and other ';'. It errs on the side of
// "more": a false positive only disables a retry, a false negative could
// retry statements the database already applied. Quoting and comment rules
// differ between databases (MySQL's "#" comments and backslash escapes,
// PostgreSQL's nested comments and dollar quotes, SQLite's [identifiers]),
// and a rule of one read under another's can hide a real ';' (an apostrophe
// in "-- don't" starting a quote that never ends), so the text is read
// under each database's rules and counts as several statements when any of
// them finds a separator.
func hasMore(q string, i int) bool {
	if i >= len(q) || strings.IndexByte(q[i:], ';') < 0 {
		return false // the common case: no ';' at all
	}
	for _, d := range dialects {
		if d.hasMore(q, i) {
			return true
		}
	}
	return false
}

// dialect holds the lexical rules of one family of databases that decide
// where quoted text and comments end.
type dialect struct {
	hash        bool // '#' starts a comment to the end of the line (MySQL)
	dashSpace   bool // "--" starts a comment only before a space or control character (MySQL)
	nested      bool // block comments nest (PostgreSQL)
	execComment bool // "/*!" and "/*M!" hold code, not a comment (MySQL, MariaDB)
	escSingle   bool // '\' escapes the next character in '...' (MySQL)
	escDouble   bool // '\' escapes the next character in "..." (MySQL without ANSI_QUOTES)
	eStrings    bool // '\' escapes in E'...' (PostgreSQL)
	dollar      bool // $$...$$ and $tag$...$tag$ quote (PostgreSQL)
	backtick    bool // `...` quotes an identifier (MySQL, SQLite)
	brackets    bool // [...] quotes an identifier (SQLite, SQL Server)
}

// plainSQL is the reading used for the operation name: standard comments.
var plainSQL = dialect{}

// dialects are the readings hasMore applies (any one finding a separator
// wins).
var dialects = [...]dialect{
	{nested: true, eStrings: true, dollar: true},                                                       // PostgreSQL
	{nested: true, escSingle: true, dollar: true},                                                      // PostgreSQL, standard_conforming_strings off
	{hash: true, dashSpace: true, execComment: true, escSingle: true, escDouble: true, backtick: true}, // MySQL, MariaDB
	{hash: true, dashSpace: true, execComment: true, escSingle: true, backtick: true},                  // ... ANSI_QUOTES
	{hash: true, dashSpace: true, execComment: true, backtick: true},                                   // ... NO_BACKSLASH_ESCAPES
	{backtick: true, brackets: true},                                                                   // SQLite, SQL Server
}

// comment returns the end of the comment that starts at i, or i when none
// does. An unterminated comment runs to the end of the text.
func (d dialect) comment(q string, i int) int {
	if i >= len(q) {
		return i
	}
	c := q[i]
	switch {
	case c == '-' && i+1 < len(q) && q[i+1] == '-':
		if d.dashSpace && i+2 < len(q) && q[i+2] > ' ' {
			return i // MySQL: "1--1" is arithmetic
		}
		return lineEnd(q, i)
	case c == '#' && d.hash:
		return lineEnd(q, i)
	case c == '/' && i+1 < len(q) && q[i+1] == '*':
		if d.execComment && i+2 < len(q) && (q[i+2] == '!' || q[i+2] == 'M' && i+3 < len(q) && q[i+3] == '!') {
			return i // executed by MySQL/MariaDB: read as code
		}
		depth := 0
		for j := i; j+1 < len(q); {
			switch {
			case q[j] == '/' && q[j+1] == '*' && (depth == 0 || d.nested):
				depth++
				j += 2
			case q[j] == '*' && q[j+1] == '/':
				depth--
				j += 2
				if depth == 0 {
					return j
				}
			default:
				j++
			}
		}
		return len(q)
	}
	return i
}

func lineEnd(q string, i int) int {
	for i < len(q) && q[i] != '\n' {
		i++
	}
	return i
}

// skip returns the end of the quoted text or comment that starts at i, or i
// when none does.
func (d dialect) skip(q string, i int) int {
	switch c := q[i]; {
	case c == '\'':
		esc := d.escSingle || d.eStrings && i > 0 && (q[i-1] == 'E' || q[i-1] == 'e') && (i == 1 || !isWordByte(q[i-2]))
		return skipString(q, i, c, esc)
	case c == '"':
		return skipString(q, i, c, d.escDouble)
	case c == '`' && d.backtick:
		return skipString(q, i, c, false)
	case c == '[' && d.brackets:
		if j := strings.IndexByte(q[i+1:], ']'); j >= 0 {
			return i + 1 + j + 1
		}
		return len(q)
	case c == '$' && d.dollar && (i == 0 || !isWordByte(q[i-1]) && q[i-1] != '$'):
		j := i + 1
		if j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z' || q[j] >= 0x80) {
			for j < len(q) && (isWordByte(q[j]) || q[j] >= 0x80) {
				j++
			}
		}
		if j >= len(q) || q[j] != '$' {
			return i // a parameter ($1) or part of a name
		}
		tag := q[i : j+1]
		if end := indexFrom(q, j+1, tag); end >= 0 {
			return end + len(tag)
		}
		return len(q)
	}
	return d.comment(q, i)
}

// skipString returns the end of the text quoted by q[i], where a doubled
// quote stands for itself and, when esc, '\' escapes the next character.
func skipString(q string, i int, quote byte, esc bool) int {
	i++
	for i < len(q) {
		switch q[i] {
		case '\\':
			if esc {
				i += 2
				continue
			}
		case quote:
			if i+1 < len(q) && q[i+1] == quote {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(q)
}

func (d dialect) hasMore(q string, i int) bool {
	for i < len(q) {
		if q[i] == ';' {
			// More than whitespace, comments and ';' after it?
			for j := i + 1; j < len(q); {
				switch c := q[j]; {
				case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == ';':
					j++
				default:
					k := d.comment(q, j)
					if k == j {
						return true
					}
					j = k
				}
			}
			return false
		}
		if j := d.skip(q, i); j > i {
			i = j
		} else {
			i++
		}
	}
	return false
}
