// Command apisurface counts the exported identifiers of Go packages, so a
// change to the public surface can be measured before and after.
//
// Usage:
//
//	go run ./internal/cmd/apisurface [dir ...]
//
// With no arguments it walks the module from the current directory. For each
// package (test files excluded, main packages skipped) it prints the exported
// consts, vars, types, funcs, methods (on exported types), struct fields and
// interface methods (of exported types), and their total.
package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// counts holds one package's exported identifiers by kind.
type counts struct {
	consts, vars, types, funcs, methods, fields, ifaceMethods int
}

func (c counts) total() int {
	return c.consts + c.vars + c.types + c.funcs + c.methods + c.fields + c.ifaceMethods
}

func main() {
	roots := os.Args[1:]
	if len(roots) == 0 {
		roots = []string{"."}
	}
	var dirs []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				name := d.Name()
				if path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
					return filepath.SkipDir
				}
				dirs = append(dirs, path)
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "apisurface:", err)
			os.Exit(1)
		}
	}
	sort.Strings(dirs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "package\tconsts\tvars\ttypes\tfuncs\tmethods\tfields\tiface\ttotal\t")
	for _, dir := range dirs {
		c, name, ok, err := countDir(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "apisurface:", err)
			os.Exit(1)
		}
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", name, c.consts, c.vars, c.types, c.funcs, c.methods, c.fields, c.ifaceMethods, c.total())
	}
	tw.Flush()
}

// countDir parses the non-test Go files of dir that build on this platform
// (go/build applies the build constraints). ok is false when the directory
// holds no library package (no Go files, or package main).
func countDir(dir string) (c counts, name string, ok bool, err error) {
	pkg, err := build.ImportDir(dir, 0)
	if err != nil {
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return c, "", false, nil
		}
		return c, "", false, err
	}
	if pkg.Name == "main" {
		return c, "", false, nil
	}
	fset := token.NewFileSet()
	for _, file := range pkg.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(dir, file), nil, parser.SkipObjectResolution)
		if err != nil {
			return c, "", false, err
		}
		countFile(f, &c)
	}
	return c, filepath.ToSlash(dir), true, nil
}

func countFile(f *ast.File, c *counts) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			if d.Recv == nil {
				c.funcs++
			} else if ast.IsExported(receiverName(d.Recv.List[0].Type)) {
				c.methods++
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if !n.IsExported() {
							continue
						}
						if d.Tok == token.CONST {
							c.consts++
						} else {
							c.vars++
						}
					}
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					c.types++
					switch t := s.Type.(type) {
					case *ast.StructType:
						c.fields += exportedFields(t.Fields)
					case *ast.InterfaceType:
						c.ifaceMethods += exportedFields(t.Methods)
					}
				}
			}
		}
	}
}

// exportedFields counts the exported names in a field list; an embedded
// field counts under its type's name.
func exportedFields(fl *ast.FieldList) int {
	n := 0
	for _, f := range fl.List {
		if len(f.Names) == 0 {
			if ast.IsExported(receiverName(f.Type)) {
				n++
			}
			continue
		}
		for _, id := range f.Names {
			if id.IsExported() {
				n++
			}
		}
	}
	return n
}

// receiverName returns the base type name of a receiver or embedded type
// expression: T, *T, T[P], pkg.T.
func receiverName(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		case *ast.SelectorExpr:
			return t.Sel.Name
		case *ast.Ident:
			return t.Name
		default:
			return ""
		}
	}
}
