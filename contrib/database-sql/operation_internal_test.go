package redresssql

import "testing"

// TestMultiStatement: a text counts as several statements when a ';'
// outside quotes and comments is followed by more than whitespace and
// comments, under any database's rules. A false "single" could let the
// wrapper retry a multi-statement text after a deadlock, running the
// statements before the failing one twice (MySQL multiStatements commits
// them one by one).
func TestMultiStatement(t *testing.T) {
	cases := []struct {
		name string
		q    string
		want bool
	}{
		{"single", "UPDATE t SET n = n + 1 WHERE id = 1", false},
		{"trailing semicolon", "UPDATE t SET n = 1;", false},
		{"trailing semicolons and space", "UPDATE t SET n = 1 ; ;\n", false},
		{"two statements", "UPDATE t SET n = 1; DELETE FROM t", true},
		{"semicolon in string", "INSERT INTO t VALUES ('a;b')", false},
		{"semicolon in identifier", `SELECT "a;b" FROM t`, false},
		{"doubled quote", "INSERT INTO t VALUES ('it''s; fine')", false},

		// Comments with quotes and semicolons.
		{"apostrophe in line comment", "UPDATE t SET n = 1 -- don't\n; DELETE FROM t", true},
		{"apostrophe in block comment", "UPDATE t SET n = 1 /* don't */; DELETE FROM t", true},
		{"apostrophe in leading comment", "-- it's\nUPDATE t SET n = 1; DELETE FROM t", true},
		{"apostrophe in hash comment", "UPDATE t SET n = 1 # don't\n; DELETE FROM t", true},
		{"semicolon in line comment", "UPDATE t SET n = 1 -- a; b\n", false},
		{"semicolon in block comment", "UPDATE t SET n = 1 /* a; b */ WHERE id = 1", false},
		{"semicolon in leading comment", "/* a; b */ UPDATE t SET n = 1", false},
		{"real semicolon after line comment", "UPDATE t SET n = 1 -- one\n; UPDATE u SET n = 2", true},
		{"real semicolon after block comment", "UPDATE t SET n = 1 /* one */; UPDATE u SET n = 2", true},
		{"only a comment after the semicolon", "UPDATE t SET n = 1; -- done", false},
		{"only a block comment after the semicolon", "UPDATE t SET n = 1; /* done; really */", false},
		{"statement after a comment after the semicolon", "UPDATE t SET n = 1; /* next */ DELETE FROM t", true},
		{"comment opener in string", "UPDATE t SET s = '/*'; DELETE FROM t -- */", true},
		{"comment opener in string, one statement", "UPDATE t SET s = '--' WHERE id = 1", false},

		// Dialect differences: a rule of one database read under another's
		// must not hide a separator.
		{"mysql backslash escape", `UPDATE t SET s = 'a\''; DELETE FROM t; SELECT '`, true},
		{"mysql escaped backslash", `UPDATE t SET s = 'a\\'; DELETE FROM t`, true},
		{"mysql dash without space", "UPDATE t SET n = 1--1; DELETE FROM t", true},
		{"mysql executable comment", "UPDATE t SET n = 1 /*!; DELETE FROM t */", true},
		{"postgres nested comment", "UPDATE t SET n = 1 /* a /* b */ don't */; DELETE FROM t", true},
		{"postgres dollar quote", "UPDATE t SET s = $$don't$$; DELETE FROM t", true},
		{"postgres tagged dollar quote", "UPDATE t SET s = $x$don't; $x$ WHERE id = 1", false},
		// One statement to PostgreSQL, two to the other readings: counted
		// as several (a false positive only disables a retry).
		{"postgres dollar-quoted body", "DO $$BEGIN UPDATE t SET n = 1; END$$", true},
		{"postgres E string", `UPDATE t SET s = E'a\''; DELETE FROM t; SELECT '`, true},
		{"postgres parameter", "UPDATE t SET n = $1 WHERE id = $2; DELETE FROM t", true},
		{"sqlite bracket identifier", "UPDATE [don't] SET n = 1; DELETE FROM t; SELECT 'x'", true},
		{"backtick identifier", "UPDATE `don't` SET n = 1; DELETE FROM t", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := scan(tc.q).multi; got != tc.want {
				t.Fatalf("scan(%q).multi = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}
