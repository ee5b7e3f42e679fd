package redresssql

import "context"

type operationKey struct{}

// WithOperation returns a context whose database calls are labelled with the
// operation name op ("GetUser") instead of the name derived from the
// statement. op must be low cardinality: never SQL text or arguments.
func WithOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

// OperationFrom returns the operation name set by WithOperation, or "".
func OperationFrom(ctx context.Context) string {
	op, _ := ctx.Value(operationKey{}).(string)
	return op
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
	info := scan(query)
	if info.verb == "" {
		return "QUERY"
	}
	if info.table == "" {
		return info.verb
	}
	return info.verb + " " + info.table
}

// stmtInfo is what the wrapper reads from a statement's text.
type stmtInfo struct {
	verb  string // upper case, "" if none
	table string // first table, "" if none
	// multi is true when the text holds more than one statement (a ';'
	// followed by more text). Such a text is never retried after it was sent.
	multi bool
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

// skipSpace skips whitespace and comments from i.
func skipSpace(q string, i int) int {
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(':
			i++
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := indexFrom(q, i+2, "*/")
			if j < 0 {
				return len(q)
			}
			i = j + 2
		default:
			return i
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
			i = skipQuoted(q, i, '\'')
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

func skipQuoted(q string, i int, quote byte) int {
	i++
	for i < len(q) {
		if q[i] == quote {
			if i+1 < len(q) && q[i+1] == quote {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return i
}

// hasMore reports whether a ';' outside quotes is followed by more than
// whitespace and comments. It errs on the side of "more": a false positive
// only disables a retry.
func hasMore(q string, i int) bool {
	for i < len(q) {
		switch q[i] {
		case '\'', '"', '`':
			i = skipQuoted(q, i, q[i])
		case ';':
			j := skipSpace(q, i+1)
			for j < len(q) && q[j] == ';' {
				j = skipSpace(q, j+1)
			}
			return j < len(q)
		default:
			i++
		}
	}
	return false
}
