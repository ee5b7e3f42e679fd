package core_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"
)

// TestExportedNamesHaveDocComments: every exported type, function, method,
// struct field and interface method of core and core/coretest has a doc
// comment (go doc is the reference).
func TestExportedNamesHaveDocComments(t *testing.T) {
	for _, dir := range []string{".", "coretest"} {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkgs {
			for _, f := range p.Files {
				for _, d := range f.Decls {
					checkDecl(t, fset, d)
				}
			}
		}
	}
}

func checkDecl(t *testing.T, fset *token.FileSet, d ast.Decl) {
	t.Helper()
	missing := func(pos token.Pos, name string) { t.Errorf("%s: %s has no doc comment", fset.Position(pos), name) }
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Name.IsExported() && d.Doc == nil && (d.Recv == nil || exportedRecv(d.Recv)) {
			missing(d.Pos(), d.Name.Name)
		}
	case *ast.GenDecl:
		for _, s := range d.Specs {
			ts, ok := s.(*ast.TypeSpec)
			if !ok || !ts.Name.IsExported() {
				continue
			}
			if d.Doc == nil && ts.Doc == nil {
				missing(ts.Pos(), ts.Name.Name)
			}
			var fields *ast.FieldList
			switch tt := ts.Type.(type) {
			case *ast.StructType:
				fields = tt.Fields
			case *ast.InterfaceType:
				fields = tt.Methods
			}
			if fields == nil {
				continue
			}
			for _, fl := range fields.List {
				for _, n := range fl.Names {
					if n.IsExported() && fl.Doc == nil && fl.Comment == nil {
						missing(n.Pos(), ts.Name.Name+"."+n.Name)
					}
				}
			}
		}
	}
}

func exportedRecv(r *ast.FieldList) bool {
	if len(r.List) == 0 {
		return false
	}
	e := r.List[0].Type
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if ix, ok := e.(*ast.IndexExpr); ok {
		e = ix.X
	}
	id, ok := e.(*ast.Ident)
	return ok && id.IsExported()
}
