package conformance

import "go/ast"

// funcDoc returns the name and doc comment of a top-level function
// declaration, or "" for anything else.
func funcDoc(decl ast.Decl) (name, doc string) {
	fn, ok := decl.(*ast.FuncDecl)
	if !ok || fn.Recv != nil || fn.Doc == nil {
		return "", ""
	}
	return fn.Name.Name, fn.Doc.Text()
}
