package signalr

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
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
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, p := range pkgs {
		for _, f := range p.Files {
			for name, obj := range f.Scope.Objects {
				if ast.IsExported(name) && obj != nil {
					names[name] = true
				}
			}
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv != nil && fd.Name.IsExported() {
					names["."+fd.Name.Name] = true
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
		"signalr":     exportedNames(t, "."),
		"signalrtest": exportedNames(t, "signalrtest"),
	}
	ref := regexp.MustCompile(`\b(signalr|signalrtest)\.([A-Z]\w*)`)
	for _, m := range ref.FindAllStringSubmatch(code.String(), -1) {
		assert.True(t, pkgs[m[1]][m[2]], "README uses %s.%s, which does not exist", m[1], m[2])
	}
	method := regexp.MustCompile(`\b(?:c|client|cs|fn|b|fake|emu|out)\.([A-Z]\w*)\(`)
	for _, m := range method.FindAllStringSubmatch(code.String(), -1) {
		found := pkgs["signalr"]["."+m[1]] || pkgs["signalrtest"]["."+m[1]]
		if !found {
			// The emulator's methods.
			found = exportedNames(t, "emulator")["."+m[1]]
		}
		assert.True(t, found, "README calls .%s(, which no type has", m[1])
	}
}
