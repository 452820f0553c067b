package signalr

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exportedNames returns the exported top-level names and methods
// ("Type.Method") of the Go package in dir, tests excluded.
func exportedNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	names := map[string]bool{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv != nil {
					names["."+d.Name.Name] = true
				} else {
					names[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names[s.Name.Name] = true
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names[n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	return names
}

// TestREADMEUsesTheAPI checks that every signalr.X and signalrtest.X in the
// README's Go snippets exists, and that every method the snippets call on
// a value is a method of the package, so the tour cannot drift from the
// API unnoticed.
func TestREADMEUsesTheAPI(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var code strings.Builder
	for i, block := range strings.Split(string(data), "```") {
		if i%2 == 1 && strings.HasPrefix(block, "go\n") {
			code.WriteString(block)
		}
	}
	require.NotZero(t, code.Len(), "the README has Go snippets")
	pkgs := map[string]map[string]bool{
		"signalr":       exportedNames(t, "."),
		"signalrtest":   exportedNames(t, "signalrtest"),
		"customhandler": exportedNames(t, "customhandler"),
	}
	ref := regexp.MustCompile(`\b(signalr|signalrtest|customhandler)\.([A-Z]\w*)`)
	for _, m := range ref.FindAllStringSubmatch(code.String(), -1) {
		assert.True(t, pkgs[m[1]][m[2]], "README uses %s.%s, which does not exist", m[1], m[2])
	}
	method := regexp.MustCompile(`\b(?:c|client|cs|fn|b|fake|emu|out|ch)\.([A-Z]\w*)\(`)
	for _, m := range method.FindAllStringSubmatch(code.String(), -1) {
		found := pkgs["signalr"]["."+m[1]] || pkgs["signalrtest"]["."+m[1]] || pkgs["customhandler"]["."+m[1]]
		if !found {
			// The emulator's methods.
			found = exportedNames(t, "emulator")["."+m[1]]
		}
		assert.True(t, found, "README calls .%s(, which no type has", m[1])
	}
}
