package redresssql

import "testing"

func TestInPackage(t *testing.T) {
	cases := map[string]bool{
		"github.com/go-sql-driver/mysql":             true,
		"github.com/go-sql-driver/mysql/v2":          true,
		"github.com/go-sql-driver/mysql/v12":         true,
		"github.com/go-sql-driver/mysqlx":            false,
		"github.com/go-sql-driver/mysql/internal":    false,
		"github.com/go-sql-driver/mysql/v":           false,
		"example.com/github.com/go-sql-driver/mysql": false,
	}
	for p, want := range cases {
		if got := inPackage(p, mysqlPkg); got != want {
			t.Errorf("inPackage(%q) = %v, want %v", p, got, want)
		}
	}
}
