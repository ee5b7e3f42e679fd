package redresssql

// stmtCache remembers what the wrapper read from a connection's recent
// statement texts (scan) and the operation name derived from them, so that
// a statement the connection runs again is not lexed again. Applications
// run a small set of texts over and over; a text seen for the first time
// costs one scan, as without the cache.
//
// The cache belongs to one connection (database/sql never uses a driver
// connection from two goroutines at once), so it needs no lock. It is
// bounded: stmtCacheSize entries, replaced in turn, and texts longer than
// maxCachedQuery bytes are not kept (they are usually generated, seldom
// repeated, and their own cost dwarfs the scan). What it holds is exactly
// what scan and opName return for the text: the operation label stays the
// low-cardinality name DeriveOperation gives, never the text itself.
type stmtCache struct {
	last    uint8 // the entry of the last hit or insertion, looked at first
	next    uint8 // the entry the next insertion replaces
	entries [stmtCacheSize]cachedStmt
	long    cachedStmt // the last text too long to keep, until the next lookup
}

// cachedStmt is what a statement needs from its text.
type cachedStmt struct {
	query string
	op    string // opName; "" for an unused entry (opName never returns "")
	name  string // the redress.operation name (conn.stmt fills it in), or ""
	// session is stmtInfo.session: the text may open a transaction or
	// change the session, or holds several statements.
	session bool
}

const (
	stmtCacheSize  = 16
	maxCachedQuery = 1024
)

// lookup returns what the statement text query needs. The entry is valid
// until the connection's next lookup.
func (sc *stmtCache) lookup(query string) *cachedStmt {
	if e := &sc.entries[sc.last]; e.op != "" && e.query == query {
		return e
	}
	for i := range sc.entries {
		if e := &sc.entries[i]; e.op != "" && e.query == query {
			sc.last = uint8(i)
			return e
		}
	}
	info := scan(query)
	e := &sc.long
	if len(query) <= maxCachedQuery {
		i := sc.next
		e = &sc.entries[i]
		sc.last, sc.next = i, (i+1)%stmtCacheSize
	} else {
		query = "" // not kept
	}
	*e = cachedStmt{query: query, op: opName(info), session: info.session}
	return e
}
