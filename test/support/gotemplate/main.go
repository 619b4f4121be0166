// Renders a Gogs template file the way Gogs does (Go's html/template), with the one field the
// Keygate templates in deploy/gogs/custom read: `gotemplate <file> <IsLogged: true|false>`.
// Used by test/e2e/gogs-inject.test.ts.
package main

import (
	"fmt"
	"html/template"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gotemplate <file> <true|false>")
		os.Exit(2)
	}
	t, err := template.ParseFiles(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	logged, err := strconv.ParseBool(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := t.Execute(os.Stdout, map[string]any{"IsLogged": logged}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
